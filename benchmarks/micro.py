"""Cost of async_amqp's hot-path pieces in isolation, without a broker or a profiler.

    python benchmarks/micro.py [--rev GIT_REV]

The sans-IO core is driven through a handshake with frames encoded by pamqp,
then timed per message: publish encoding, ack encoding, decoding a stream of
deliveries. Next to it the anyio primitives the I/O layer calls per message,
on both backends. Comparing these with the end-to-end "client CPU" of
``run.py`` tells how much of a message's cost is the core and how much the
event-loop plumbing around it.
"""

from __future__ import annotations

import argparse
import struct
import sys
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pamqp import body as pamqp_body
from pamqp import commands, frame, header

from benchmarks.run import use_async_amqp_revision

if TYPE_CHECKING:  # imported lazily at run time, after the revision under test is chosen
    from async_amqp._core.client import ClientConnection

BODY_100 = b"x" * 100
BODY_64K = b"x" * 65536
BATCH = 1000


def best_per_op(function: Callable[[], object], operations: int, repeat: int = 7) -> float:
    """Seconds per operation: the best of *repeat* timings of *function* (which does many)."""
    number = 1
    while timeit.timeit(function, number=number) < 0.05:
        number *= 2
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number / operations


def open_core() -> tuple[ClientConnection, int]:
    """A ClientConnection past the handshake with channel 1 open (no I/O)."""
    from async_amqp._core.client import ClientConnection

    core = ClientConnection(heartbeat=0)
    core.initiate()
    core.data_to_send(0.0)
    start = commands.Connection.Start(
        server_properties={"product": "micro"}, mechanisms="PLAIN", locales="en_US"
    )
    for method in (
        start,
        commands.Connection.Tune(channel_max=2047, frame_max=131072, heartbeat=0),
        commands.Connection.OpenOk(),
    ):
        core.receive(frame.marshal(method, 0), 0.0)
    channel_id, _slot = core.open_channel(None)
    core.receive(frame.marshal(commands.Channel.OpenOk(), channel_id), 0.0)
    core.data_to_send(0.0)
    return core, channel_id


def delivery_stream(count: int, body: bytes, properties: commands.Basic.Properties) -> bytes:
    """*count* deliveries (method, header, body frames) as RabbitMQ sends them."""
    parts = []
    for tag in range(1, count + 1):
        deliver = commands.Basic.Deliver(
            consumer_tag="amq.ctag-abcdefghijklmnopqrstuv",
            delivery_tag=tag,
            redelivered=False,
            exchange="",
            routing_key="bench.queue",
        )
        parts.append(frame.marshal(deliver, 1))
        parts.append(frame.marshal(header.ContentHeader(0, len(body), properties), 1))
        parts.append(frame.marshal(pamqp_body.ContentBody(body), 1))
    return b"".join(parts)


def core_measurements() -> list[tuple[str, float]]:
    from async_amqp import Properties
    from async_amqp._core import wire
    from async_amqp._messages import encode_properties

    core, channel_id = open_core()
    results: list[tuple[str, float]] = []

    def add(name: str, function: Callable[[], object], operations: int = BATCH) -> None:
        results.append((name, best_per_op(function, operations)))

    def publish(body: bytes, batch: int) -> Callable[[], None]:
        def run() -> None:
            for _ in range(batch):
                core.publish(channel_id, "", "bench.queue", False, False, b"\x00\x00", body)
            core.data_to_send(0.0)

        return run

    def ack() -> None:
        for tag in range(1, BATCH + 1):
            core.send(channel_id, commands.Basic.Ack(tag))
        core.data_to_send(0.0)

    ack_frame = struct.Struct(">BHIHHQBB")
    add("core.publish 100 B + data_to_send (1000 per send)", publish(BODY_100, BATCH))
    add("core.publish 64 KiB + data_to_send (16 per send)", publish(BODY_64K, 16), 16)
    add("core.send(Basic.Ack(tag)) + data_to_send", ack)
    add("  of which commands.Basic.Ack(tag)", lambda: [commands.Basic.Ack(t) for t in range(BATCH)])
    add(
        "  of which wire.encode_method(1, Basic.Ack)",
        lambda: [wire.encode_method(1, commands.Basic.Ack(t)) for t in range(BATCH)],
    )
    add(
        "  a struct-packed ack frame, for comparison",
        lambda: [ack_frame.pack(1, 1, 13, 60, 80, t, 0, 0xCE) for t in range(BATCH)],
    )

    plain = delivery_stream(BATCH, BODY_100, commands.Basic.Properties())
    rpc_properties = commands.Basic.Properties(correlation_id="123", reply_to="bench.reply")
    with_properties = delivery_stream(BATCH, BODY_100, rpc_properties)
    add("core.receive: deliver+header+body, 100 B", lambda: core.receive(plain, 0.0))
    add(
        "core.receive: same with reply_to + correlation_id",
        lambda: core.receive(with_properties, 0.0),
    )
    add(
        "  pamqp frame.unmarshal of the three frames, for comparison",
        lambda: _pamqp_unmarshal(plain),
    )
    deliver = commands.Basic.Deliver("amq.ctag-abcdefghijklmnopqrstuv", 7, False, "", "bench.queue")
    payload = frame.marshal(deliver, 1)[7:-1]
    add(
        "wire.decode_method(basic.deliver payload)",
        lambda: [wire.decode_method(payload) for _ in range(BATCH)],
    )
    empty = b"\x00\x00"
    rpc_payload = rpc_properties.marshal()
    user_properties = Properties(correlation_id="123", reply_to="bench.reply")
    add(
        "Properties.decode(no properties)", lambda: [Properties.decode(empty) for _ in range(BATCH)]
    )
    add(
        "Properties.decode(reply_to + correlation_id)",
        lambda: [Properties.decode(rpc_payload) for _ in range(BATCH)],
    )
    headers_payload = commands.Basic.Properties(
        content_type="application/json",
        headers={"x-retry": 3, "trace-id": "abcdef0123456789", "ok": True, "n": {"a": 1}},
    ).marshal()
    add(
        "Properties.decode(content_type + 4 headers, one nested)",
        lambda: [Properties.decode(headers_payload) for _ in range(BATCH)],
    )
    add(
        "encode_properties(Properties(reply_to, correlation_id))",
        lambda: [encode_properties(user_properties) for _ in range(BATCH)],
    )
    return results


def _pamqp_unmarshal(data: bytes) -> None:
    offset = 0
    while offset < len(data):
        consumed, _channel, _frame = frame.unmarshal(data[offset:])
        offset += consumed


# -- prototypes: what a fused fast path could cost (benchmark-only, not the client's code) --

_frame_head = struct.Struct(">BHI")
_content_head = struct.Struct(">HHQH")
_u64 = struct.Struct(">Q")
_DELIVER_INDEX = commands.Basic.Deliver.index.to_bytes(4, "big")


def fused_deliveries(data: bytes) -> list[tuple[str, int, bool, str, str, bytes, bytes]]:
    """Cut deliver+header+body triples in one pass: one tuple per message.

    The shape a fused parser would take for the common case (all three frames of
    a message in the buffer, one body frame); anything else would fall back to
    the general frame-by-frame path.
    """
    messages = []
    offset = 0
    end_of_data = len(data)
    unpack_head = _frame_head.unpack_from
    while offset < end_of_data:
        _type, _channel, size = unpack_head(data, offset)
        start = offset + 7
        if data[start : start + 4] != _DELIVER_INDEX:
            raise ValueError("not a basic.deliver: the general path would take over")
        position = start + 4
        tag_end = position + 1 + data[position]
        consumer_tag = data[position + 1 : tag_end].decode()
        (delivery_tag,) = _u64.unpack_from(data, tag_end)
        redelivered = bool(data[tag_end + 8] & 1)
        position = tag_end + 9
        exchange_end = position + 1 + data[position]
        exchange = data[position + 1 : exchange_end].decode()
        key_end = exchange_end + 1 + data[exchange_end]
        routing_key = data[exchange_end + 1 : key_end].decode()
        offset = start + size + 1
        _type, _channel, size = unpack_head(data, offset)
        header_start = offset + 7
        properties = data[header_start + 12 : header_start + size]
        (body_size,) = _u64.unpack_from(data, header_start + 4)
        offset = header_start + size + 1
        _type, _channel, size = unpack_head(data, offset)
        body = data[offset + 7 : offset + 7 + body_size]
        offset += 8 + size
        messages.append(
            (consumer_tag, delivery_tag, redelivered, exchange, routing_key, properties, body)
        )
    return messages


#: (flag, name) of the short-string properties, in property-list order
_SHORT_STRINGS = {
    0x8000: "content_type",
    0x4000: "content_encoding",
    0x0400: "correlation_id",
    0x0200: "reply_to",
    0x0100: "expiration",
    0x0080: "message_id",
    0x0020: "message_type",
    0x0010: "user_id",
    0x0008: "app_id",
    0x0004: "cluster_id",
}


def fast_properties(payload: bytes) -> dict[str, object] | None:
    """Decode a property list holding only short strings and octets (else None: pamqp)."""
    (flags,) = struct.unpack_from(">H", payload)
    if flags & 0x2000 or flags & 0x0040 or flags & 1:  # headers, timestamp, more flags
        return None
    values: dict[str, object] = {}
    offset = 2
    for flag in (0x8000, 0x4000, 0x1000, 0x0800, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020):
        if not flags & flag:
            continue
        if flag in (0x1000, 0x0800):  # delivery_mode, priority
            values["delivery_mode" if flag == 0x1000 else "priority"] = payload[offset]
            offset += 1
            continue
        end = offset + 1 + payload[offset]
        values[_SHORT_STRINGS[flag]] = payload[offset + 1 : end].decode()
        offset = end
    return values


def prototype_measurements() -> list[tuple[str, float]]:
    plain = delivery_stream(BATCH, BODY_100, commands.Basic.Properties())
    rpc_payload = commands.Basic.Properties(correlation_id="123", reply_to="bench.reply").marshal()
    return [
        (
            "prototype: fused deliver+header+body parser, 100 B",
            best_per_op(lambda: fused_deliveries(plain), BATCH),
        ),
        (
            "prototype: short-string properties decoder (reply_to, correlation_id)",
            best_per_op(lambda: [fast_properties(rpc_payload) for _ in range(BATCH)], BATCH),
        ),
    ]


def anyio_measurements(backend: str) -> list[tuple[str, float]]:
    import anyio
    import anyio.lowlevel
    from anyio._core._eventloop import get_async_backend

    results: list[tuple[str, float]] = []

    async def main() -> None:
        async def per_op(name: str, make: Callable[[], Any]) -> None:
            # time an awaited primitive in a loop, inside the event loop
            best = float("inf")
            for _ in range(5):
                started = anyio.current_time()
                for _ in range(BATCH * 10):
                    await make()
                best = min(best, anyio.current_time() - started)
            results.append((f"{backend}: {name}", best / (BATCH * 10)))

        cached = get_async_backend().checkpoint_if_cancelled
        await per_op(
            "anyio.lowlevel.checkpoint_if_cancelled()", anyio.lowlevel.checkpoint_if_cancelled
        )
        await per_op("  the backend's checkpoint_if_cancelled, looked up once", cached)
        await per_op(
            "anyio.lowlevel.checkpoint() (a trip through the loop)", anyio.lowlevel.checkpoint
        )

        def sync_per_op(name: str, function: Callable[[], object]) -> None:
            results.append((f"{backend}: {name}", best_per_op(function, BATCH)))

        def events() -> None:
            for _ in range(BATCH):
                anyio.Event().set()

        def clock() -> None:
            for _ in range(BATCH):
                anyio.current_time()

        sync_per_op("anyio.Event() + set()", events)
        sync_per_op("anyio.current_time()", clock)

    anyio.run(main, backend=backend)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", metavar="GIT_REV", help="measure async_amqp at this revision")
    args = parser.parse_args(argv)
    print(f"async_amqp: {use_async_amqp_revision(args.rev)}\n")
    rows = (
        core_measurements()
        + prototype_measurements()
        + anyio_measurements("asyncio")
        + anyio_measurements("trio")
    )
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds * 1e6:7.3f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
