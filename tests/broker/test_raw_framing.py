"""Raw-frame tests of framing errors and content sequencing, against the fake broker and RabbitMQ.

Each case sends one violation on an open connection and expects RabbitMQ's
exact connection.close (code, text, class_id, method_id), or RabbitMQ's
silent TCP close; a connection opened before the violation must keep working.
"""

from __future__ import annotations

import struct

import pytest
from pamqp import commands

from async_amqp._core.wire import EMPTY_PROPERTIES, encode_content, encode_method
from async_amqp_testing.raw import encode_frame

from .wirekit import WireTarget, assert_usable, connection_error

PUBLISH = encode_method(1, commands.Basic.Publish(exchange="", routing_key="nowhere"))


def header_frame(body_size: int, class_id: int = 60, channel_id: int = 1) -> bytes:
    """A content header frame with no properties."""
    payload = struct.pack(">HHQ", class_id, 0, body_size) + EMPTY_PROPERTIES
    return encode_frame(2, channel_id, payload)


async def _expect_connection_error(
    wire_target: WireTarget, data: bytes, expected: tuple[int, str, int, int], **handshake: int
) -> None:
    async with wire_target.bystander() as other:
        async with wire_target.opened(1, **handshake) as raw:
            await raw.send(data)
            assert await connection_error(raw) == expected
        await assert_usable(other)


async def _expect_silent_drop(wire_target: WireTarget, data: bytes) -> None:
    async with wire_target.bystander() as other:
        async with wire_target.opened(1) as raw:
            await raw.send(data)
            assert await raw.wait_closed() == []
        await assert_usable(other)


async def test_bad_frame_end(wire_target: WireTarget) -> None:
    method = encode_method(1, commands.Basic.Qos(prefetch_count=1))
    broken = method[:-1] + b"\x00"
    await _expect_connection_error(
        wire_target,
        broken,
        (
            501,
            "FRAME_ERROR - type 1, all octets = <<0,60,0,10,0,0,0,0,0,1,0>>: "
            "{invalid_frame_end_marker,0}",  # ends at column 78: no line break
            0,
            0,
        ),
    )


async def test_bad_frame_end_quotes_the_first_16_octets_of_a_long_payload(
    wire_target: WireTarget,
) -> None:
    method = encode_method(1, commands.Queue.Declare(queue="abcdefghijklmnop"))
    broken = method[:-1] + b"\x01"
    await _expect_connection_error(
        wire_target,
        broken,
        (
            501,
            "FRAME_ERROR - type 1, first 16 octets = "
            "<<0,50,0,10,0,0,16,97,98,99,100,101,102,103,104,105>>: "
            "{invalid_frame_end_marker,\n" + " " * 82 + "1}",  # Erlang's ~p breaks at 80
            0,
            0,
        ),
    )


@pytest.mark.parametrize(
    ("frame_type", "payload", "frame_end", "text"),
    [
        (
            1,
            bytes([0, 10, *[200] * 13, 201]),
            7,
            "type 1, all octets = <<0,10,200,200,200,200,200,200,200,200,200,200,200,200,\n"
            + " " * 23
            + "200,201>>: {invalid_frame_end_marker,7}",
        ),
        (
            1,
            bytes(range(200, 230)),
            7,
            'type 1, first 16 octets = <<"'
            + bytes(range(200, 216)).decode("utf-8", "surrogateescape")
            + '">>: {invalid_frame_end_marker,7}',
        ),
        (
            1,
            b"\n\n\naaaaaaaaaaaaaXXXX",
            7,
            'type 1, first 16 octets = <<"\\n\\n\\naaaaaaaaaaaaa">>: {invalid_frame_end_marker,\n'
            + " " * 54
            + "7}",
        ),
        (
            255,
            bytes([0, *[255] * 15, 1, 1]),
            0xCE,
            "type 255, first 16 octets = <<0,255,255,255,255,255,255,255,255,255,255,255,\n"
            + " " * 30
            + "255,255,255,255>>: unknown_frame",
        ),
        (9, b"a\nb\tc", 0xCE, 'type 9, all octets = <<"a\\nb\\tc">>: unknown_frame'),
    ],
    ids=["binary-broken", "latin-1", "tuple-broken", "unknown-type", "unknown-body"],
)
async def test_frame_error_texts_are_erlang_formatted(
    wire_target: WireTarget, frame_type: int, payload: bytes, frame_end: int, text: str
) -> None:
    """RabbitMQ prints frame errors with Erlang's ~p: strings, numbers and 80-column breaks."""
    await _expect_connection_error(
        wire_target,
        encode_frame(frame_type, 1, payload, frame_end=frame_end),
        (501, f"FRAME_ERROR - {text}", 0, 0),
    )


@pytest.mark.parametrize(
    ("frame", "fatal"),
    [
        (encode_method(1, commands.Basic.Qos())[:-1] + b"\x00", True),
        (encode_frame(3, 1, b"x" * 200_000), True),
        (encode_frame(7, 1, b"abc"), False),
    ],
    ids=["bad-frame-end", "frame-too-large", "unknown-frame-type"],
)
async def test_after_a_fatal_frame_error_nothing_more_is_read(
    wire_target: WireTarget, frame: bytes, fatal: bool
) -> None:
    """RabbitMQ stops reading after a broken frame end or an oversized frame (it closes after
    a grace period); after other frame errors it still answers connection.close."""
    async with wire_target.opened(1) as raw:
        await raw.send(frame)
        close = await raw.expect_connection_close(answer=False)
        assert close.reply_code == 501
        await raw.send_method(0, commands.Connection.Close(200, "", 0, 0))
        frames = await raw.wait_closed() if fatal else [await raw.receive_frame()]
        if fatal:
            assert frames == []
        else:
            assert isinstance(frames[0].method, commands.Connection.CloseOk)


async def test_frame_larger_than_frame_max(wire_target: WireTarget) -> None:
    data = PUBLISH + header_frame(8000) + encode_frame(3, 1, b"x" * 8000)
    await _expect_connection_error(
        wire_target,
        data,
        (501, "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,8000,4088}", 0, 0),
        frame_max=4096,
    )


async def test_unknown_frame_type(wire_target: WireTarget) -> None:
    await _expect_connection_error(
        wire_target,
        encode_frame(7, 1, b"abc"),
        (501, 'FRAME_ERROR - type 7, all octets = <<"abc">>: unknown_frame', 0, 0),
    )


async def test_truncated_method_arguments(wire_target: WireTarget) -> None:
    payload = struct.pack(">HH", 50, 10) + b"\x00\x00\x05ab"  # queue.declare, name cut short
    await _expect_connection_error(
        wire_target,
        encode_frame(1, 1, payload),
        (501, "FRAME_ERROR - cannot decode <<0,0,5,97,98>>", 50, 10),
    )


@pytest.mark.parametrize(
    "payload",
    [struct.pack(">HH", 60, 999), struct.pack(">HH", 99, 10)],
    ids=["unknown-method", "unknown-class"],
)
async def test_unknown_method_drops_the_socket(wire_target: WireTarget, payload: bytes) -> None:
    await _expect_silent_drop(wire_target, encode_frame(1, 1, payload))


async def test_unknown_field_type_in_arguments_drops_the_socket(wire_target: WireTarget) -> None:
    table = b"\x01aU\x00\x01"
    payload = (
        struct.pack(">HHH", 50, 10, 0) + b"\x00" + b"\x00" + struct.pack(">I", len(table)) + table
    )
    await _expect_silent_drop(wire_target, encode_frame(1, 1, payload))


@pytest.mark.parametrize("tag", [b"U", b"Z"])
async def test_unknown_field_type_in_message_headers(wire_target: WireTarget, tag: bytes) -> None:
    table = b"\x01a" + tag + b"\x00\x05"
    properties = struct.pack(">H", 0x2000) + struct.pack(">I", len(table)) + table
    content = b"".join(bytes(p) for p in encode_content(1, properties, b"x", 131072))
    await _expect_connection_error(wire_target, PUBLISH + content, (541, "INTERNAL_ERROR", 0, 0))


async def test_heartbeat_on_a_channel(wire_target: WireTarget) -> None:
    await _expect_connection_error(
        wire_target,
        encode_frame(8, 1, b""),
        (505, "UNEXPECTED_FRAME - type 8, all octets = <<>>", 0, 0),
    )


@pytest.mark.parametrize(
    "frame", [header_frame(1), encode_frame(3, 1, b"x")], ids=["header", "body"]
)
async def test_content_without_a_publish(wire_target: WireTarget, frame: bytes) -> None:
    await _expect_connection_error(
        wire_target,
        frame,
        (505, "UNEXPECTED_FRAME - expected method frame, got non method frame instead", 0, 0),
    )


async def test_method_instead_of_the_content_header(wire_target: WireTarget) -> None:
    await _expect_connection_error(
        wire_target,
        PUBLISH + encode_method(1, commands.Basic.Qos(prefetch_count=1)),
        (
            505,
            "UNEXPECTED_FRAME - expected content header for class 60, "
            "got non content header frame instead",
            60,
            40,
        ),
    )


async def test_content_header_of_the_wrong_class(wire_target: WireTarget) -> None:
    await _expect_connection_error(
        wire_target,
        PUBLISH + header_frame(1, class_id=50),
        (
            505,
            "UNEXPECTED_FRAME - expected content header for class 60, got one for class 50 instead",
            60,
            40,
        ),
    )


async def test_body_longer_than_announced_fails_at_the_next_method(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        await raw.send(PUBLISH + header_frame(2) + encode_frame(3, 1, b"abc"))
        # No error yet: the channel waits for the rest of the body.
        await raw.send(encode_method(1, commands.Basic.Qos(prefetch_count=1)))
        assert await connection_error(raw) == (
            505,
            "UNEXPECTED_FRAME - expected content body, got non content body frame instead",
            60,
            40,
        )


async def test_body_in_many_frames_and_frames_of_other_channels_in_between(
    wire_target: WireTarget,
) -> None:
    async with wire_target.opened(1) as raw:
        await raw.open_channel(2)
        queue = (
            await raw.call(1, commands.Queue.Declare(exclusive=True), commands.Queue.DeclareOk)
        ).queue
        assert queue is not None
        publish = encode_method(1, commands.Basic.Publish(exchange="", routing_key=queue))
        frames = [publish, header_frame(100)]
        for index in range(100):
            frames.append(encode_frame(3, 1, bytes([65 + index % 26])))
            if index == 50:
                frames.append(encode_method(2, commands.Basic.Qos(prefetch_count=1)))
        await raw.send(b"".join(frames))
        await raw.expect(commands.Basic.QosOk, 2)
        await raw.send_method(1, commands.Basic.Get(queue=queue, no_ack=True))
        await raw.expect(commands.Basic.GetOk, 1)
        header = await raw.receive_frame()
        body = await raw.receive_frame()
        assert header.content_header()[1] == 100
        # 100 one-byte frames come back as one body frame.
        assert body.frame_type == 3
        assert len(body.payload) == 100
        await raw.close()


async def test_large_bodies_are_split_at_frame_max(wire_target: WireTarget) -> None:
    async with wire_target.opened(1, frame_max=8192) as raw:
        queue = (
            await raw.call(1, commands.Queue.Declare(exclusive=True), commands.Queue.DeclareOk)
        ).queue
        assert queue is not None
        body = bytes(range(256)) * 100  # 25600 bytes
        await raw.publish(1, body, routing_key=queue)
        await raw.send_method(1, commands.Basic.Get(queue=queue, no_ack=True))
        await raw.expect(commands.Basic.GetOk, 1)
        header = await raw.receive_frame()
        assert header.content_header()[1] == len(body)
        sizes = []
        received = b""
        while len(received) < len(body):
            frame = await raw.receive_frame()
            assert frame.frame_type == 3
            sizes.append(len(frame.payload))
            received += frame.payload
        assert received == body
        assert sizes == [8184, 8184, 8184, 1048]
        await raw.close()


async def test_empty_body_has_no_body_frame(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        queue = (
            await raw.call(1, commands.Queue.Declare(exclusive=True), commands.Queue.DeclareOk)
        ).queue
        assert queue is not None
        await raw.publish(1, b"", routing_key=queue)
        await raw.send_method(1, commands.Basic.Get(queue=queue, no_ack=True))
        await raw.expect(commands.Basic.GetOk, 1)
        header = await raw.receive_frame()
        assert header.content_header()[1] == 0
        # The next frame is the reply to the next request, not a body frame.
        await raw.send_method(1, commands.Basic.Qos(prefetch_count=1))
        await raw.expect(commands.Basic.QosOk, 1)
        await raw.close()


async def test_frames_arriving_together_are_answered_in_order(wire_target: WireTarget) -> None:
    """Several methods in one write: each reply in order, then the error of a bad one."""
    async with wire_target.opened(None) as raw:
        data = b"".join(
            [
                encode_method(1, commands.Channel.Open()),
                encode_method(1, commands.Queue.Declare(exclusive=True)),
                encode_method(1, commands.Basic.Qos(prefetch_count=3)),
                encode_frame(7, 1, b"abc"),
            ]
        )
        await raw.send(data)
        await raw.expect(commands.Channel.OpenOk, 1)
        await raw.expect(commands.Queue.DeclareOk, 1)
        await raw.expect(commands.Basic.QosOk, 1)
        assert (await connection_error(raw))[0] == 501


async def test_violation_in_one_connection_leaves_the_others_alone(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as first, wire_target.opened(1) as second:
        await first.send(encode_frame(7, 0, b""))
        assert (await connection_error(first))[0] == 501
        await assert_usable(second)
        await second.close()
    await wire_target.assert_serving()


def _header(weight: int, body_size: int, properties: bytes, class_id: int = 60) -> bytes:
    return encode_frame(2, 1, struct.pack(">HHQ", class_id, weight, body_size) + properties)


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        (
            [encode_frame(2, 1, b"\x00\x3c\x00\x00\x00")],
            (501, "FRAME_ERROR - type 2, all octets = <<0,60,0,0,0>>: unknown_frame", 0, 0),
        ),
        ([_header(0, 1, b""), encode_frame(3, 1, b"x")], (541, "INTERNAL_ERROR", 0, 0)),
        (
            [_header(0, 1, b"\x80\x00\x05ab"), encode_frame(3, 1, b"x")],
            (541, "INTERNAL_ERROR", 0, 0),
        ),
        (
            [_header(0, 1, b"\x80\x00\x02abXYZ"), encode_frame(3, 1, b"x")],
            (541, "INTERNAL_ERROR", 0, 0),
        ),
        (
            [_header(0, 1, b"\x00\x01\x00\x00"), encode_frame(3, 1, b"x")],
            (541, "INTERNAL_ERROR", 0, 0),
        ),
        (
            [_header(7, 1, b"\x00\x00"), encode_frame(3, 1, b"x")],
            (
                505,
                "UNEXPECTED_FRAME - expected content header for class 60, "
                "got non content header frame instead",
                60,
                40,
            ),
        ),
    ],
    ids=[
        "header-too-short",
        "no-property-flags",
        "truncated-properties",
        "bytes-after-properties",
        "continued-flags",
        "non-zero-weight",
    ],
)
async def test_malformed_content_headers(
    wire_target: WireTarget, frames: list[bytes], expected: tuple[int, str, int, int]
) -> None:
    publish = encode_method(1, commands.Basic.Publish(exchange="", routing_key="nowhere"))
    await _expect_connection_error(wire_target, publish + b"".join(frames), expected)


async def test_property_strings_need_not_be_utf8(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        queue = (
            await raw.call(1, commands.Queue.Declare(exclusive=True), commands.Queue.DeclareOk)
        ).queue
        assert queue is not None
        properties = b"\x80\x00\x02\xff\xfe"  # content_type: two bytes that are not UTF-8
        await raw.publish(1, b"x", routing_key=queue, properties=properties)
        await raw.send_method(1, commands.Basic.Get(queue=queue, no_ack=True))
        await raw.expect(commands.Basic.GetOk, 1)
        header = await raw.receive_frame()
        assert header.payload == struct.pack(">HHQ", 60, 0, 1) + properties
        await raw.close()


async def test_header_tag_l_passes_through(wire_target: WireTarget) -> None:
    async with wire_target.opened(1) as raw:
        queue = (
            await raw.call(1, commands.Queue.Declare(exclusive=True), commands.Queue.DeclareOk)
        ).queue
        assert queue is not None
        table = b"\x01aL" + struct.pack(">q", 5)
        properties = struct.pack(">HI", 0x2000, len(table)) + table
        await raw.publish(1, b"x", routing_key=queue, properties=properties)
        await raw.send_method(1, commands.Basic.Get(queue=queue, no_ack=True))
        await raw.expect(commands.Basic.GetOk, 1)
        header = await raw.receive_frame()
        assert header.payload == struct.pack(">HHQ", 60, 0, 1) + properties
        await raw.close()
