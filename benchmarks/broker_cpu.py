"""The fake broker's own CPU per operation: its connection driver fed bytes directly.

    python benchmarks/broker_cpu.py [--scenario rpc ...] [--repeat 7] [--count N]

No socket, no event loop, no client: a :class:`~async_amqp_testing._driver.ConnectionDriver`
is taken through the handshake with frames a client would send, then timed per
operation (``time.process_time``) while fed what the benchmark scenarios of
``run.py`` send, reading its output the way the asyncio session does
(``drain_outbox`` then one ``data_to_send`` per received chunk). This is the
steady number for the broker's cost: wall-clock runs on this shared machine
are noisy, this is not. The best of ``--repeat`` timings is printed.

* ``rpc``: one round trip = the request (publish with ``reply_to`` and
  ``correlation_id``, 100-byte body) delivered to a no_ack consumer on channel 1,
  then the reply published by that channel and delivered to channel 2's consumer:
  two reads, two writes.
* ``publish-64KiB``: publishes of 64 KiB bodies to a queue without consumers, fed
  in reads of 256 KiB (what asyncio's transport reads at once), so commands are cut
  where reads end, as on a socket; the queue is purged between timings.
* ``consume-noack``: a no_ack consumer; one publish of 100 bytes per read and its
  delivery (per message).
* ``deliver-64KiB``: the same with 64 KiB bodies.

To compare two versions of the broker, run this script from each (alternately,
e.g. ``PYTHONPATH=/tmp/base python benchmarks/broker_cpu.py``).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pamqp import commands

from async_amqp._core.properties import encode_values
from async_amqp._core.wire import PROTOCOL_HEADER, encode_content, encode_method, encode_publish
from async_amqp_testing._driver import ConnectionDriver
from async_amqp_testing._model import BrokerModel
from async_amqp_testing._server_identity import server_properties
from async_amqp_testing._settings import ConnectionSettings
from async_amqp_testing.raw import plain_response

READ_SIZE = 256 * 1024
_runs = itertools.count()
FRAME_MAX = 131072


class _Transport:
    """What the driver asks of a session; nothing to do here (output is read after each read)."""

    def wake_writer(self) -> None: ...
    def output_ready(self) -> None: ...
    def close_after(self, timeout: float) -> None: ...
    def abort(self) -> None:
        raise RuntimeError("the driver aborted the connection")

    def tuned(self) -> None: ...
    def resume_reading(self) -> None: ...


class _Host:
    blocked_reason: str | None = None

    def connection_opened(self, driver: ConnectionDriver) -> None: ...


def _driver(replies: str = "replies") -> ConnectionDriver:
    settings = ConnectionSettings(server_properties=server_properties("broker-cpu"), heartbeat=0)
    model = BrokerModel(users={"guest": "guest"})
    driver = ConnectionDriver(settings, model, _Host(), _Transport(), "broker-cpu")
    start_ok = commands.Connection.StartOk(
        client_properties={"capabilities": {}},
        mechanism="PLAIN",
        response=plain_response("guest", "guest").decode(),
        locale="en_US",
    )
    handshake = [
        PROTOCOL_HEADER,
        encode_method(0, start_ok),
        encode_method(0, commands.Connection.TuneOk(channel_max=16, frame_max=FRAME_MAX)),
        encode_method(0, commands.Connection.Open(virtual_host="/")),
        encode_method(1, commands.Channel.Open()),
        encode_method(2, commands.Channel.Open()),
        encode_method(1, commands.Queue.Declare(queue="requests")),
        encode_method(2, commands.Queue.Declare(queue=replies)),
        encode_method(1, commands.Queue.Declare(queue="parked")),
    ]
    for data in handshake:
        _feed(driver, data)
    return driver


def _feed(driver: ConnectionDriver, data: bytes) -> bytes:
    """One read as the asyncio session handles it: process, encode, take the output."""
    driver.receive_data(data, 0.0)
    driver.drain_outbox()
    return driver.core.data_to_send(0.0)


def _consume(driver: ConnectionDriver, channel_id: int, queue: str) -> None:
    consume = commands.Basic.Consume(queue=queue, consumer_tag=f"ctag-{queue}", no_ack=True)
    _feed(driver, encode_method(channel_id, consume))


def _publish(channel_id: int, routing_key: str, properties: bytes, body: bytes) -> bytes:
    method = encode_publish(channel_id, b"", routing_key.encode(), False, False)
    return method + b"".join(encode_content(channel_id, properties, body, FRAME_MAX))


def _properties(**values: str) -> bytes:
    """A property list with these short strings (reply_to, correlation_id) set."""
    order: tuple[str, ...] = ("content_type", "content_encoding", "headers", "delivery_mode")
    order += ("priority", "correlation_id", "reply_to", "expiration", "message_id", "timestamp")
    order += ("message_type", "user_id", "app_id", "cluster_id")
    return encode_values(tuple(values.get(name) for name in order))


def rpc(count: int) -> Callable[[], None]:
    # As in run.py: the reply queue's name is new in every run, so every request's
    # property list is one the broker has not seen; the replies' lists (correlation ids
    # only) repeat from run to run.
    replies_queue = f"replies-{next(_runs)}"
    driver = _driver(replies_queue)
    _consume(driver, 1, "requests")
    _consume(driver, 2, replies_queue)
    body = b"x" * 100
    requests = [
        _publish(2, "requests", _properties(correlation_id=str(i), reply_to=replies_queue), body)
        for i in range(count)
    ]
    replies = [
        _publish(1, replies_queue, _properties(correlation_id=str(i)), body) for i in range(count)
    ]

    def run() -> None:
        for request, reply in zip(requests, replies, strict=True):
            assert _feed(driver, request)
            assert _feed(driver, reply)

    return run


def publish_64k(count: int) -> Callable[[], None]:
    driver = _driver()
    body = b"x" * 65536
    stream = b"".join(_publish(1, "parked", b"\x00\x00", body) for _ in range(count))
    reads = [stream[i : i + READ_SIZE] for i in range(0, len(stream), READ_SIZE)]
    purge = encode_method(1, commands.Queue.Purge(queue="parked"))

    def run() -> None:
        for data in reads:
            _feed(driver, data)
        _feed(driver, purge)

    return run


def _consume_bodies(body: bytes, count: int) -> Callable[[], None]:
    driver = _driver()
    _consume(driver, 2, "replies")
    publishes = [_publish(1, "replies", b"\x00\x00", body) for _ in range(count)]

    def run() -> None:
        for data in publishes:
            assert _feed(driver, data)

    return run


def consume_noack(count: int) -> Callable[[], None]:
    return _consume_bodies(b"x" * 100, count)


def deliver_64k(count: int) -> Callable[[], None]:
    return _consume_bodies(b"x" * 65536, count)


#: name: (how to build a run of *count* operations, default count, unit)
SCENARIOS: dict[str, tuple[Callable[[int], Callable[[], None]], int, str]] = {
    "rpc": (rpc, 2000, "µs/rt"),
    "publish-64KiB": (publish_64k, 1000, "µs/msg"),
    "consume-noack": (consume_noack, 5000, "µs/msg"),
    "deliver-64KiB": (deliver_64k, 1000, "µs/msg"),
}


def measure(build: Callable[[int], Callable[[], None]], count: int, repeat: int) -> float:
    """The best of *repeat* timings, in µs of process CPU per operation."""
    best = float("inf")
    for _ in range(repeat):
        run = build(count)
        run()  # warm the caches and the interned names
        run = build(count)
        gc.collect()
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best / count * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--count", type=int, help="operations per timing (default: per scenario)")
    args = parser.parse_args(argv)
    for name in args.scenario or SCENARIOS:
        build, count, unit = SCENARIOS[name]
        per_op = measure(build, args.count or count, args.repeat)
        print(f"{name:14} {per_op:8.2f} {unit}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
