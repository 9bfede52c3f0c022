"""Raw-frame parity tests of byte-level edge cases, against the fake broker and RabbitMQ.

Each case comes from differential fuzzing (issue 7): deep tables, names that
are not UTF-8 (RabbitMQ accepts them in table keys and in basic.publish, and refuses
them in other methods' short strings), payload sizes at frame_max, bytes left over after a method's
arguments, malformed tables (RabbitMQ drops the socket when the table is in a
method's arguments and answers 541 when it is in message headers), heartbeats
with a payload, timestamps past year 9999 and an unprompted close-ok.
"""

from __future__ import annotations

import struct

import pytest
from pamqp import commands
from pamqp.base import Frame

from async_amqp._core.wire import encode_method, make_method
from async_amqp_testing.raw import RawConnection, encode_frame

from .wirekit import WireTarget, assert_usable, channel_error, connection_error


def table(body: bytes) -> bytes:
    """Length-prefix a table body."""
    return struct.pack(">I", len(body)) + body


def nested(depth: int) -> bytes:
    """A table nested *depth* levels deep (7 bytes a level), an int at the bottom."""
    encoded = table(b"\x01aI\x00\x00\x00\x07")
    for _ in range(depth):
        encoded = table(b"\x01kF" + encoded)
    return encoded


def queue_declare(arguments: bytes, name: bytes = b"", extra: bytes = b"") -> bytes:
    """A queue.declare frame (exclusive, auto-delete) with raw *arguments* on channel 1."""
    payload = struct.pack(">HHH", 50, 10, 0) + bytes([len(name)]) + name + b"\x0c"
    return encode_frame(1, 1, payload + arguments + extra)


def publish_frames(properties: bytes, routing_key: bytes, body: bytes = b"x") -> bytes:
    """basic.publish to the default exchange, a header with raw *properties*, one body."""
    method = struct.pack(">HHH", 60, 40, 0) + b"\x00" + bytes([len(routing_key)]) + routing_key
    header = struct.pack(">HHQ", 60, 0, len(body)) + properties
    return (
        encode_frame(1, 1, method + b"\x00") + encode_frame(2, 1, header) + encode_frame(3, 1, body)
    )


def headers_property(headers: bytes) -> bytes:
    """A property list holding only *headers* (a length-prefixed table)."""
    return struct.pack(">H", 0x2000) + headers


async def declare_queue(raw: RawConnection) -> str:
    """An exclusive server-named queue on channel 1."""
    ok = await raw.call(1, commands.Queue.Declare(exclusive=True), commands.Queue.DeclareOk)
    assert ok.queue
    return ok.queue


async def get_raw(raw: RawConnection, queue: str) -> tuple[commands.Basic.GetOk, bytes, bytes]:
    """basic.get with no-ack: the get-ok, the raw property list and the body."""
    await raw.send_method(1, commands.Basic.Get(queue=queue, no_ack=True))
    get_ok = await raw.expect(commands.Basic.GetOk, 1)
    header = await raw.receive_frame()
    assert header.frame_type == 2
    body_size = struct.unpack_from(">Q", header.payload, 4)[0]
    body = b""
    while len(body) < body_size:
        body += (await raw.receive_frame()).payload
    return get_ok, header.payload[12:], body


async def round_trip(wire_target: WireTarget, properties: bytes) -> bytes:
    """Publish with raw *properties* to a new queue and return the property list delivered."""
    async with wire_target.opened(1) as raw:
        queue = await declare_queue(raw)
        await raw.send(publish_frames(properties, queue.encode()))
        _, delivered, body = await get_raw(raw, queue)
        assert body == b"x"
        await raw.close()
    return delivered


async def expect_connection_error(
    wire_target: WireTarget, data: bytes, expected: tuple[int, str, int, int], **handshake: int
) -> None:
    """Send *data* on an open connection: RabbitMQ's close; a bystander keeps working."""
    async with wire_target.bystander() as other:
        async with wire_target.opened(1, **handshake) as raw:
            await raw.send(data)
            assert await connection_error(raw) == expected
        await assert_usable(other)


async def expect_silent_drop(wire_target: WireTarget, data: bytes) -> None:
    """Send *data*: the socket closes without connection.close; a bystander keeps working."""
    async with wire_target.bystander() as other:
        async with wire_target.opened(1) as raw:
            await raw.send(data)
            assert await raw.wait_closed() == []
        await assert_usable(other)


# -- deep tables ------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [400, 3000])
async def test_deep_queue_arguments_are_accepted(wire_target: WireTarget, depth: int) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send(queue_declare(nested(depth)))
        ok = await raw.expect(commands.Queue.DeclareOk, 1)
        assert (ok.queue or "").startswith("amq.gen-")
        await assert_usable(raw)
        await raw.close()


@pytest.mark.parametrize("depth", [400, 3000])
async def test_deep_headers_are_delivered_byte_for_byte(
    wire_target: WireTarget, depth: int
) -> None:
    properties = headers_property(nested(depth))
    assert await round_trip(wire_target, properties) == properties


# -- names and keys that are not UTF-8 ---------------------------------------------------


async def test_non_utf8_routing_key_of_a_publish_is_routed(wire_target: WireTarget) -> None:
    key = "\udcff\udcfeq"  # bytes ff fe 71 on the wire
    async with wire_target.opened(1) as raw:
        queue = await declare_queue(raw)
        await raw.call(
            1, commands.Queue.Bind(queue=queue, exchange="amq.fanout"), commands.Queue.BindOk
        )
        await raw.publish(1, b"x", exchange="amq.fanout", routing_key=key)
        get_ok, _, body = await get_raw(raw, queue)
        assert body == b"x"
        assert get_ok.routing_key == key
        await raw.close()


async def test_non_utf8_exchange_name_of_a_publish_is_looked_up(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        publish = make_method(commands.Basic.Publish, exchange="\udcff\udcfe", routing_key="q")
        header = struct.pack(">HHQ", 60, 0, 0) + b"\x00\x00"
        await raw.send(encode_method(1, publish) + encode_frame(2, 1, header))
        assert await channel_error(raw) == (
            404,
            "NOT_FOUND - no exchange '\udcff\udcfe' in vhost '/'",
            60,
            40,
        )
        await raw.close()


@pytest.mark.parametrize(
    "method",
    [
        make_method(commands.Queue.Declare, queue="\udcff", exclusive=True),
        make_method(commands.Queue.Bind, queue="q", exchange="amq.direct", routing_key="\udcff"),
        make_method(commands.Basic.Consume, queue="q", consumer_tag="\udcff"),
        make_method(commands.Exchange.Delete, exchange="\udcff"),
    ],
    ids=["queue-declare", "queue-bind", "basic-consume", "exchange-delete"],
)
async def test_non_utf8_short_strings_elsewhere_are_refused(
    wire_target: WireTarget, method: Frame
) -> None:
    await expect_connection_error(
        wire_target,
        encode_method(1, method),
        (501, "FRAME_ERROR - Malformed UTF-8 in shortstr", 0, 0),
    )


async def test_non_utf8_table_key_in_queue_arguments_is_declared(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send(queue_declare(table(b"\x02\xff\xfeI\x00\x00\x00\x01")))
        await raw.expect(commands.Queue.DeclareOk, 1)
        await raw.close()


async def test_non_utf8_header_key_is_delivered(wire_target: WireTarget) -> None:
    properties = headers_property(table(b"\x02\xff\xfeS" + table(b"\xfa\xfb")))
    assert await round_trip(wire_target, properties) == properties


# -- sizes and left-over bytes -----------------------------------------------------------


async def test_a_payload_of_exactly_frame_max_is_accepted(wire_target: WireTarget) -> None:
    async with wire_target.opened(1, frame_max=4096) as raw:
        queue = await declare_queue(raw)
        body = bytes(range(256)) * 16  # 4096 bytes in one body frame
        await raw.send(publish_frames(b"\x00\x00", queue.encode(), body))
        _, _, received = await get_raw(raw, queue)
        assert received == body
        await raw.close()


async def test_a_payload_over_frame_max_names_frame_max_minus_8(wire_target: WireTarget) -> None:
    await expect_connection_error(
        wire_target,
        publish_frames(b"\x00\x00", b"nowhere", b"x" * 4097),
        (501, "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,4097,4088}", 0, 0),
        frame_max=4096,
    )


@pytest.mark.parametrize(
    ("payload", "arguments", "class_id", "method_id"),
    [
        (struct.pack(">HHIHB", 60, 10, 0, 1, 0) + b"\xff", "0,0,0,0,0,1,0,255", 60, 10),
        (struct.pack(">HH", 90, 10) + b"\xff", "255", 90, 10),
        (struct.pack(">HHB", 20, 20, 1) + b"\xff", "1,255", 20, 20),
        (
            struct.pack(">HHH", 50, 10, 0) + b"\x00\x0c" + table(b"") + b"\xff",
            "0,0,0,12,0,0,0,0,255",
            50,
            10,
        ),
        (
            encode_method(1, commands.Basic.Publish(routing_key="q"))[7:-1] + b"\xff",
            "0,0,0,1,113,0,255",
            60,
            40,
        ),
    ],
    ids=["qos", "tx-select", "channel-flow", "queue-declare", "publish"],
)
async def test_bytes_left_over_after_the_arguments(
    wire_target: WireTarget, payload: bytes, arguments: str, class_id: int, method_id: int
) -> None:
    await expect_connection_error(
        wire_target,
        encode_frame(1, 1, payload),
        (501, f"FRAME_ERROR - cannot decode <<{arguments}>>", class_id, method_id),
    )


async def test_a_table_longer_than_the_arguments(wire_target: WireTarget) -> None:
    await expect_connection_error(
        wire_target,
        queue_declare(struct.pack(">I", 50) + b"\x01kI\x00\x00\x00\x01"),
        (501, "FRAME_ERROR - cannot decode <<0,0,0,12,0,0,0,50,1,107,73,0,0,0,1>>", 50, 10),
    )


# -- malformed tables --------------------------------------------------------------------

MALFORMED_TABLES = {
    "longstr-past-its-table": table(b"\x01kS\x00\x00\x00\x09abc"),
    "L-with-4-bytes": table(b"\x01kL\x00\x00\x00\x01"),
    "I-with-2-bytes": table(b"\x01kI\x00\x01"),
    "key-past-its-table": table(b"\x09k"),
    "inner-table-past-its-table": table(
        b"\x01kF" + struct.pack(">I", 9) + b"\x01aI\x00\x00\x00\x01"
    ),
    "array-value-past-its-array": table(b"\x01kA" + table(b"I\x00\x00")),
    "zero-tag": table(b"\x01k\x00"),
}


@pytest.mark.parametrize("encoded", MALFORMED_TABLES.values(), ids=MALFORMED_TABLES.keys())
async def test_malformed_table_in_arguments_drops_the_socket(
    wire_target: WireTarget, encoded: bytes
) -> None:
    await expect_silent_drop(wire_target, queue_declare(encoded))


@pytest.mark.parametrize("encoded", MALFORMED_TABLES.values(), ids=MALFORMED_TABLES.keys())
async def test_malformed_table_in_headers_is_an_internal_error(
    wire_target: WireTarget, encoded: bytes
) -> None:
    await expect_connection_error(
        wire_target,
        publish_frames(headers_property(encoded), b"nowhere"),
        (541, "INTERNAL_ERROR", 0, 0),
    )


# -- heartbeats, timestamps, close-ok ----------------------------------------------------


async def test_heartbeat_with_a_payload(wire_target: WireTarget) -> None:
    await expect_connection_error(
        wire_target,
        encode_frame(8, 0, b"abc"),
        (501, 'FRAME_ERROR - type 8, all octets = <<"abc">>: unknown_frame', 0, 0),
    )


@pytest.mark.parametrize(
    "stamp",
    [1_700_000_000_000_000, 2**63, 2**64 - 1],
    ids=["pika-microseconds", "2**63", "max"],
)
async def test_timestamps_past_year_9999_are_delivered(wire_target: WireTarget, stamp: int) -> None:
    properties = struct.pack(">HQ", 0x0040, stamp)
    assert await round_trip(wire_target, properties) == properties


async def test_unprompted_close_ok(wire_target: WireTarget) -> None:
    await expect_connection_error(
        wire_target,
        encode_method(0, commands.Connection.CloseOk()),
        (504, "CHANNEL_ERROR - unexpected method in connection state running", 10, 51),
    )


async def test_deep_header_matches_a_deep_headers_binding(wire_target: WireTarget) -> None:
    deep = b"\x01kF" + nested(3000)
    binding = table(b"\x07x-matchS" + table(b"all") + deep)
    async with wire_target.opened(1) as raw:
        queue = await declare_queue(raw)
        bind = struct.pack(">HHH", 50, 20, 0) + bytes([len(queue)]) + queue.encode()
        bind += b"\x0bamq.headers\x00\x00" + binding
        await raw.send(encode_frame(1, 1, bind))
        await raw.expect(commands.Queue.BindOk, 1)
        matching = headers_property(table(deep))
        other = headers_property(table(b"\x01kF" + nested(2999)))
        for properties in (other, matching):
            publish = struct.pack(">HHH", 60, 40, 0) + b"\x0bamq.headers\x00\x00"
            header = struct.pack(">HHQ", 60, 0, 1) + properties
            await raw.send(
                encode_frame(1, 1, publish)
                + encode_frame(2, 1, header)
                + encode_frame(3, 1, b"m" if properties is matching else b"o")
            )
        _, delivered, body = await get_raw(raw, queue)
        assert (delivered, body) == (matching, b"m")
        await raw.send_method(1, commands.Basic.Get(queue=queue, no_ack=True))
        await raw.expect(commands.Basic.GetEmpty, 1)
        await raw.close()
