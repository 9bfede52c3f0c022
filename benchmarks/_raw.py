"""The ceiling: a minimal client on a blocking socket with pre-encoded frames.

Not a usable client and not a peer in the ratios: it is the "what a raw
socket achieves against RabbitMQ" of the performance budget. It does the same
work on the wire as the real clients (same frames, same start and end points,
one ack per message, the RPC server reads ``reply_to`` and ``correlation_id``
from each request) with as little Python per message as possible: publishes
are copies of one pre-encoded message sent 500 at a time, frames are cut with
:mod:`struct`, and acks for everything one ``recv`` brought are sent in one
``sendall``. Handshake frames are encoded with pamqp.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from time import perf_counter

from pamqp import body as pamqp_body
from pamqp import commands, frame, header
from pamqp.base import Frame

from ._common import Client, Metrics, Params, Stopwatch, cycle_metrics, latency_metrics

_head = struct.Struct(">BHI")
_method = struct.Struct(">I")
_ack_frame = struct.Struct(">BHIIQBB")
_DELIVER = commands.Basic.Deliver.index
_ACK = commands.Basic.Ack.index
_NACK = commands.Basic.Nack.index
#: Messages per sendall in the publish scenarios.
PUBLISH_BATCH = 500
#: content-header property flags
_CORRELATION_ID = 0x0400
_REPLY_TO = 0x0200


class _Connection:
    """A blocking AMQP connection that reads raw frames."""

    def __init__(self, p: Params, channels: int = 1) -> None:
        self.sock = socket.create_connection((p.host, p.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()
        self.leftover: list[tuple[int, int, bytearray]] = []
        self.sock.sendall(b"AMQP\x00\x00\x09\x01")
        self.expect(commands.Connection.Start)
        self.send_method(
            0,
            commands.Connection.StartOk(
                client_properties={"product": "raw-socket benchmark"},
                mechanism="PLAIN",
                response=f"\0{p.login}\0{p.password}",
                locale="en_US",
            ),
        )
        tune = self.expect(commands.Connection.Tune)
        assert isinstance(tune, commands.Connection.Tune)
        self.frame_max = tune.frame_max
        self.send_method(
            0, commands.Connection.TuneOk(tune.channel_max, tune.frame_max, heartbeat=0)
        )
        self.send_method(0, commands.Connection.Open(p.vhost))
        self.expect(commands.Connection.OpenOk)
        for channel_id in range(1, channels + 1):
            self.call(channel_id, commands.Channel.Open(), commands.Channel.OpenOk)

    def send_method(self, channel_id: int, method: Frame) -> None:
        self.sock.sendall(frame.marshal(method, channel_id))

    def call(self, channel_id: int, method: Frame, reply: type[Frame]) -> Frame:
        self.send_method(channel_id, method)
        return self.expect(reply)

    def frames(self) -> list[tuple[int, int, bytearray]]:
        """Frames left over by :meth:`expect`, or else all complete ones after a ``recv``."""
        if self.leftover:
            frames, self.leftover = self.leftover, []
            return frames
        buffer = self.buffer
        frames = []
        while True:
            offset = 0
            available = len(buffer)
            while available - offset >= 8:
                frame_type, channel_id, size = _head.unpack_from(buffer, offset)
                end = offset + 7 + size
                if end >= available:
                    break
                frames.append((frame_type, channel_id, buffer[offset + 7 : end]))
                offset = end + 1
            if offset:
                del buffer[:offset]
                return frames
            chunk = self.sock.recv(1 << 18)
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            buffer += chunk

    def expect(self, reply: type[Frame]) -> Frame:
        """Read frames until a method of class *reply* arrives (others before it are dropped)."""
        while True:
            frames = self.frames()
            for position, (frame_type, _channel, payload) in enumerate(frames):
                if frame_type != 1:
                    continue
                (index,) = _method.unpack_from(payload)
                if index == reply.index:
                    self.leftover = frames[position + 1 :]
                    method = reply()
                    method.unmarshal(bytes(payload[4:]))
                    return method
                if index in (commands.Connection.Close.index, commands.Channel.Close.index):
                    closing = commands.INDEX_MAPPING[index]()
                    closing.unmarshal(bytes(payload[4:]))
                    raise ConnectionError(f"broker closed: {closing}")

    def message_count(self, channel_id: int, queue: str) -> int:
        declared = self.call(
            channel_id, commands.Queue.Declare(queue=queue, passive=True), commands.Queue.DeclareOk
        )
        assert isinstance(declared, commands.Queue.DeclareOk)
        return declared.message_count or 0

    def close(self) -> None:
        self.call(0, commands.Connection.Close(200, "bye", 0, 0), commands.Connection.CloseOk)
        self.sock.close()


def _message(
    channel_id: int,
    queue: str,
    body: bytes,
    *,
    reply_to: str | None = None,
    correlation_id: str | None = None,
) -> bytes:
    """The three frames of one publish to *queue* through the default exchange."""
    properties = commands.Basic.Properties(reply_to=reply_to, correlation_id=correlation_id)
    return b"".join(
        (
            frame.marshal(commands.Basic.Publish(exchange="", routing_key=queue), channel_id),
            frame.marshal(
                header.ContentHeader(0, len(body), properties),
                channel_id,
            ),
            frame.marshal(pamqp_body.ContentBody(body), channel_id),
        )
    )


def publish(p: Params) -> Metrics:
    conn = _Connection(p)
    message = _message(1, p.queue, p.body)
    batch = message * PUBLISH_BATCH
    watch = Stopwatch()
    full, rest = divmod(p.count, PUBLISH_BATCH)
    for _ in range(full):
        conn.sock.sendall(batch)
    conn.sock.sendall(message * rest)
    while conn.message_count(1, p.queue) < p.count:
        pass
    metrics = watch.throughput(p.count)
    conn.close()
    return metrics


def publish_confirm(p: Params) -> Metrics:
    conn = _Connection(p)
    conn.call(1, commands.Confirm.Select(), commands.Confirm.SelectOk)
    message = _message(1, p.queue, p.body)
    watch = Stopwatch()
    published = settled = 0
    while settled < p.count:
        room = min(p.window - (published - settled), p.count - published)
        if room > 0:
            conn.sock.sendall(message * room)
            published += room
        for frame_type, _channel, payload in conn.frames():
            if frame_type != 1:
                continue
            index, tag, multiple = struct.unpack_from(">IQB", payload)
            if index == _NACK:
                raise RuntimeError(f"publish {tag} nacked")
            if index == _ACK:
                # RabbitMQ confirms one queue's messages in order
                settled = tag if multiple else settled + 1
    metrics = watch.throughput(p.count)
    conn.close()
    return metrics


def _delivery_tag(payload: bytearray) -> int:
    """The delivery tag of a basic.deliver payload (after its consumer tag)."""
    tag_length = payload[4]
    (tag,) = struct.unpack_from(">Q", payload, 5 + tag_length)
    return int(tag)


def consume(p: Params) -> Metrics:
    conn = _Connection(p)
    conn.call(1, commands.Basic.Qos(prefetch_count=p.prefetch), commands.Basic.QosOk)
    watch = Stopwatch()
    conn.call(1, commands.Basic.Consume(queue=p.queue, no_ack=p.no_ack), commands.Basic.ConsumeOk)
    received = 0
    while received < p.count:
        acks = []
        for frame_type, channel_id, payload in conn.frames():
            if frame_type == 3:  # a body: 100-byte messages have exactly one
                received += 1
            elif frame_type == 1 and not p.no_ack and _method.unpack_from(payload)[0] == _DELIVER:
                acks.append(
                    _ack_frame.pack(1, channel_id, 13, _ACK, _delivery_tag(payload), 0, 0xCE)
                )
        if acks:
            conn.sock.sendall(b"".join(acks))
    conn.message_count(1, p.queue)
    metrics = watch.throughput(p.count)
    conn.close()
    return metrics


def _short_strings(properties: bytearray) -> dict[int, bytes]:
    """correlation_id and reply_to of a content header payload that has only those."""
    (flags,) = struct.unpack_from(">H", properties, 12)
    found: dict[int, bytes] = {}
    offset = 14
    for flag in (_CORRELATION_ID, _REPLY_TO):
        if flags & flag:
            length = properties[offset]
            found[flag] = bytes(properties[offset + 1 : offset + 1 + length])
            offset += 1 + length
    return found


def rpc(p: Params) -> Metrics:
    """Channel 1 serves requests, channel 2 sends them and reads the replies."""
    conn = _Connection(p, channels=2)
    conn.call(1, commands.Basic.Consume(queue=p.queue, no_ack=True), commands.Basic.ConsumeOk)
    conn.call(2, commands.Basic.Consume(queue=p.reply_queue, no_ack=True), commands.Basic.ConsumeOk)
    body = p.body
    latencies: list[float] = []
    watch = Stopwatch()
    for i in range(p.warmup + p.count):
        if i == p.warmup:
            watch = Stopwatch()
        correlation_id = str(i)
        started = perf_counter()
        conn.sock.sendall(
            _message(2, p.queue, body, reply_to=p.reply_queue, correlation_id=correlation_id)
        )
        request: dict[int, bytes] = {}
        replied = False
        while not replied:
            for frame_type, channel_id, payload in conn.frames():
                if frame_type == 2 and channel_id == 1:
                    request = _short_strings(payload)
                elif frame_type == 3 and channel_id == 1:  # a whole request: reply as asked
                    conn.sock.sendall(
                        _message(
                            1,
                            request[_REPLY_TO].decode(),
                            bytes(payload),
                            correlation_id=request[_CORRELATION_ID].decode(),
                        )
                    )
                elif frame_type == 2 and channel_id == 2:
                    assert _short_strings(payload)[_CORRELATION_ID].decode() == correlation_id
                elif frame_type == 3 and channel_id == 2:  # the whole reply
                    replied = True
        elapsed = perf_counter() - started
        if i >= p.warmup:
            latencies.append(elapsed)
    cpu_seconds = watch.cpu_seconds()
    conn.close()
    return latency_metrics(latencies, cpu_seconds)


def connect(p: Params) -> Metrics:
    cycles: list[float] = []
    watch = Stopwatch()
    for _ in range(p.count):
        started = perf_counter()
        conn = _Connection(p)
        conn.call(1, commands.Channel.Close(200, "bye", 0, 0), commands.Channel.CloseOk)
        conn.close()
        cycles.append(perf_counter() - started)
    return cycle_metrics(cycles, watch.cpu_seconds())


def make_client() -> Client:
    kinds: dict[str, Callable[[Params], Metrics]] = {
        "publish": publish,
        "publish_confirm": publish_confirm,
        "consume": consume,
        "rpc": rpc,
        "connect": connect,
    }
    return Client("raw-socket", kinds, reference=True)
