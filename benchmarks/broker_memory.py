"""Memory of the fake broker holding a backlog, and whether it gives it back.

    python benchmarks/broker_memory.py                       # both views, 100k messages
    python benchmarks/broker_memory.py --count 20000 --rounds 3
    python benchmarks/broker_memory.py --view process         # only the subprocess RSS view

Two views of the same workload (N messages of 128 bytes published to a few
queues through the default exchange, held until every queue reports its share,
then consumed with acks, then the queues deleted):

* ``process``: ``python -m async_amqp_testing --port 0`` in a subprocess, its
  RSS read from ``/proc``. This is the honest figure: what the operating system
  sees, allocator fragmentation included. It reports the overhead per queued
  message (RSS growth / N - 128) and the RSS after each drained, deleted round
  next to the RSS at the start (after a small warm-up round, so imports and
  first-use caches are not counted as a leak).
* ``heap``: a :class:`~async_amqp_testing.FakeBroker` in a thread of this
  process under :mod:`tracemalloc`: Python's own heap growth per queued message,
  without the allocator's slack. Used by the test suite (no timing involved).

The publisher is a minimal blocking-socket client (pamqp-encoded frames), so
nothing but the broker costs memory in the measured process.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import socket
import struct
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pamqp import body as pamqp_body
from pamqp import commands, frame, header
from pamqp.base import Frame

BODY = bytes(range(128))
PUBLISH_BATCH = 500
#: What consumers ask for while draining: 0 is no limit (every message is sent at once).
PREFETCH = 0
#: The property sets a run can publish with.
PROPERTIES = {
    "none": commands.Basic.Properties(),
    "typical": commands.Basic.Properties(
        content_type="application/json",
        delivery_mode=2,
        message_id="msg-0123456789",
        timestamp=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        headers={"source": "broker_memory", "attempt": 1},
    ),
    "rich": commands.Basic.Properties(
        content_type="application/json",
        content_encoding="utf-8",
        headers={
            "source": "broker_memory",
            "attempt": 1,
            "tenant": "tenant-0042",
            "trace-id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "retry": False,
            "labels": {"env": "test", "team": "core"},
        },
        delivery_mode=2,
        priority=3,
        correlation_id="corr-0123456789",
        reply_to="replies",
        message_id="msg-0123456789",
        timestamp=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        message_type="order.created",
        app_id="broker_memory",
    ),
}
_head = struct.Struct(">BHI")
_index = struct.Struct(">I")
_DELIVER = commands.Basic.Deliver.index


class RawClient:
    """A blocking AMQP connection with one channel, just enough to fill and drain queues.

    :param host: broker address (127.0.0.1)
    :param port: broker port
    """

    def __init__(self, host: str, port: int, prefetch: int = PREFETCH) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()
        self.leftover: list[tuple[int, bytes]] = []
        self.sock.sendall(b"AMQP\x00\x00\x09\x01")
        self.expect(commands.Connection.Start)
        self.send(
            0,
            commands.Connection.StartOk(
                client_properties={"product": "broker_memory"},
                mechanism="PLAIN",
                response="\0guest\0guest",
                locale="en_US",
            ),
        )
        tune = self.expect(commands.Connection.Tune)
        assert isinstance(tune, commands.Connection.Tune)
        self.send(0, commands.Connection.TuneOk(tune.channel_max, tune.frame_max, heartbeat=0))
        self.call(0, commands.Connection.Open("/"), commands.Connection.OpenOk)
        self.call(1, commands.Channel.Open(), commands.Channel.OpenOk)
        self.call(1, commands.Basic.Qos(prefetch_count=prefetch), commands.Basic.QosOk)

    def send(self, channel_id: int, method: Frame) -> None:
        """Send one method frame."""
        self.sock.sendall(frame.marshal(method, channel_id))

    def frames(self) -> list[tuple[int, bytes]]:
        """``(frame_type, payload)`` of the frames left by :meth:`expect`, or else of every
        whole frame buffered, reading from the socket until there is one."""
        if self.leftover:
            frames, self.leftover = self.leftover, []
            return frames
        buffer = self.buffer
        frames = []
        while True:
            offset = 0
            while len(buffer) - offset >= 8:
                frame_type, _channel, size = _head.unpack_from(buffer, offset)
                end = offset + 7 + size
                if end >= len(buffer):
                    break
                frames.append((frame_type, bytes(buffer[offset + 7 : end])))
                offset = end + 1
            del buffer[:offset]
            if frames:
                return frames
            chunk = self.sock.recv(1 << 18)
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            buffer += chunk

    def expect(self, reply: type[Frame]) -> Frame:
        """Read until a method of class *reply* arrives (frames before it are dropped)."""
        while True:
            frames = self.frames()
            for position, (frame_type, payload) in enumerate(frames):
                if frame_type != 1:
                    continue
                (index,) = _index.unpack_from(payload)
                if index in (commands.Connection.Close.index, commands.Channel.Close.index):
                    raise ConnectionError(f"broker closed: {payload[4:]!r}")
                if index == reply.index:
                    self.leftover = frames[position + 1 :]
                    method = reply()
                    method.unmarshal(payload[4:])
                    return method

    def call(self, channel_id: int, method: Frame, reply: type[Frame]) -> Frame:
        """Send a method and wait for its reply."""
        self.send(channel_id, method)
        return self.expect(reply)

    def declare(self, queue: str, passive: bool = False) -> int:
        """Declare *queue*; returns its message count."""
        ok = self.call(
            1, commands.Queue.Declare(queue=queue, passive=passive), commands.Queue.DeclareOk
        )
        assert isinstance(ok, commands.Queue.DeclareOk)
        return ok.message_count or 0

    def publish(
        self, queue: str, count: int, properties: commands.Basic.Properties, body: bytes = BODY
    ) -> None:
        """Publish *count* copies of a message to *queue* (default exchange), in batches."""
        one = b"".join(
            (
                frame.marshal(commands.Basic.Publish(exchange="", routing_key=queue), 1),
                frame.marshal(header.ContentHeader(0, len(body), properties), 1),
                frame.marshal(pamqp_body.ContentBody(body), 1),
            )
        )
        full, rest = divmod(count, PUBLISH_BATCH)
        batch = one * PUBLISH_BATCH
        for _ in range(full):
            self.sock.sendall(batch)
        self.sock.sendall(one * rest)

    def wait_for(self, queue: str, count: int) -> None:
        """Poll a passive declare until *queue* holds *count* messages."""
        while self.declare(queue, passive=True) < count:
            pass

    def drain(self, queue: str, count: int) -> None:
        """Consume *count* messages from *queue*, acking each batch with ``multiple``."""
        self.call(
            1, commands.Basic.Consume(queue=queue, consumer_tag="drain"), commands.Basic.ConsumeOk
        )
        received = 0
        while received < count:
            last_tag = 0
            for frame_type, payload in self.frames():
                if frame_type == 1 and _index.unpack_from(payload)[0] == _DELIVER:
                    received += 1
                    (last_tag,) = struct.unpack_from(">Q", payload, 5 + payload[4])
            if last_tag:
                self.send(1, commands.Basic.Ack(delivery_tag=last_tag, multiple=True))
        self.call(1, commands.Basic.Cancel(consumer_tag="drain"), commands.Basic.CancelOk)

    def delete(self, queue: str) -> None:
        """Delete *queue*."""
        self.call(1, commands.Queue.Delete(queue=queue), commands.Queue.DeleteOk)

    def close(self) -> None:
        """Close the connection politely."""
        self.call(0, commands.Connection.Close(200, "bye", 0, 0), commands.Connection.CloseOk)
        self.sock.close()


@dataclass(frozen=True)
class Workload:
    """What one round does: *count* messages over *queues* queues, drained with *prefetch*."""

    count: int = 100_000
    queues: int = 4
    properties: str = "typical"
    prefetch: int = PREFETCH

    def describe(self) -> str:
        """One line for reports."""
        return (
            f"{self.count} x {len(BODY)} B, {self.properties} properties, {self.queues} queues, "
            f"drained with prefetch {self.prefetch or 'unlimited'}"
        )


def fill(client: RawClient, work: Workload, prefix: str) -> list[tuple[str, int]]:
    """Declare the queues and publish the messages over them; wait until all are held."""
    count, queues = work.count, work.queues
    shares = [(f"{prefix}-{i}", count // queues + (i < count % queues)) for i in range(queues)]
    for name, _ in shares:
        client.declare(name)
    for name, share in shares:
        client.publish(name, share, PROPERTIES[work.properties])
    for name, share in shares:
        client.wait_for(name, share)
    return shares


def empty(client: RawClient, shares: list[tuple[str, int]]) -> None:
    """Consume every message of each queue, then delete the queues."""
    for name, share in shares:
        client.drain(name, share)
        client.delete(name)


# ---- subprocess (RSS) view ---------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    """Resident set size of process *pid*, from ``/proc`` (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class ProcessReport:
    """RSS figures of the CLI broker over several fill/drain rounds (bytes)."""

    work: Workload
    start: int
    full: list[int] = field(default_factory=list)
    after: list[int] = field(default_factory=list)

    def overhead(self, round_index: int = 0) -> float:
        """RSS growth per queued message beyond its body, in one round."""
        before = self.start if round_index == 0 else self.after[round_index - 1]
        return (self.full[round_index] - before) / self.work.count - len(BODY)

    def lines(self) -> list[str]:
        """A human-readable summary."""
        mib = 1 << 20
        out = [f"subprocess broker (RSS): {self.work.describe()}"]
        out.append(f"  start (after warm-up): {self.start / mib:7.1f} MiB")
        for i, (full, after) in enumerate(zip(self.full, self.after, strict=True)):
            out.append(
                f"  round {i + 1}: held {full / mib:6.1f} MiB "
                f"({self.overhead(i):5.0f} B overhead/message), "
                f"drained+deleted {after / mib:6.1f} MiB (start + {(after - self.start) / mib:.1f})"
            )
        return out


@contextmanager
def cli_broker() -> Iterator[tuple[int, int]]:
    """``python -m async_amqp_testing --port 0``; yields ``(pid, port)``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "async_amqp_testing", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url:
            raise RuntimeError("the broker printed no URL")
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        yield process.pid, port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure_process(work: Workload, rounds: int = 2) -> ProcessReport:
    """Fill, drain and delete a backlog *rounds* times in a CLI broker, reading its RSS."""
    with cli_broker() as (pid, port):
        client = RawClient("127.0.0.1", port, work.prefetch)
        warmup = Workload(2000, work.queues, work.properties, work.prefetch)
        empty(client, fill(client, warmup, "warmup"))
        report = ProcessReport(work, rss_bytes(pid))
        for round_index in range(rounds):
            shares = fill(client, work, f"round{round_index}")
            report.full.append(rss_bytes(pid))
            empty(client, shares)
            report.after.append(rss_bytes(pid))
        client.close()
    return report


# ---- in-process (tracemalloc) view -------------------------------------------------------


@dataclass
class HeapReport:
    """Python heap growth while the in-process broker holds a backlog (bytes)."""

    work: Workload
    held: int
    left_after: int

    @property
    def overhead(self) -> float:
        """Heap growth per queued message beyond its body."""
        return self.held / self.work.count - len(BODY)

    def lines(self) -> list[str]:
        """A human-readable summary."""
        return [
            f"in-process broker (tracemalloc): {self.work.describe()}",
            f"  heap growth while held: {self.held / (1 << 20):.2f} MiB "
            f"({self.overhead:.0f} B overhead/message)",
            f"  heap left after drain+delete: {self.left_after / 1024:.0f} KiB",
        ]


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def measure_heap(work: Workload, backend: str = "asyncio") -> HeapReport:
    """Fill a FakeBroker served in a thread of this process and trace its heap growth.

    :param work: what to publish and how to drain it
    :param backend: the anyio backend of the broker's thread
    """
    from async_amqp_testing import FakeBroker

    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        with FakeBroker().in_thread(backend) as broker:
            client = RawClient(broker.host, broker.port, work.prefetch)
            warmup = Workload(500, work.queues, work.properties, work.prefetch)
            empty(client, fill(client, warmup, "warmup"))
            base = _traced()
            shares = fill(client, work, "heap")
            held = _traced() - base
            empty(client, shares)
            left = _traced() - base
            client.close()
    finally:
        if started:
            tracemalloc.stop()
    return HeapReport(work, held, left)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the measurements named on the command line and print them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--count", type=int, default=100_000, help="messages per round")
    parser.add_argument("--queues", type=int, default=4, help="queues the messages are spread over")
    parser.add_argument("--properties", choices=sorted(PROPERTIES), default="typical")
    parser.add_argument(
        "--prefetch", type=int, default=PREFETCH, help="prefetch while draining (0: unlimited)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="fill/drain rounds (process view)")
    parser.add_argument("--view", choices=("both", "process", "heap"), default="both")
    args = parser.parse_args(argv)
    work = Workload(args.count, args.queues, args.properties, args.prefetch)
    if args.view in ("both", "heap"):
        print("\n".join(measure_heap(work).lines()), flush=True)
    if args.view in ("both", "process"):
        print("\n".join(measure_process(work, args.rounds).lines()), flush=True)


if __name__ == "__main__":
    main()
