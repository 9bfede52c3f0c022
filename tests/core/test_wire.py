"""Framing: cutting a stream into frames, encoding frames, RabbitMQ's framing error texts."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamqp import commands
from pamqp import frame as pamqp_frame

from async_amqp._core.errors import FrameError, ProtocolError
from async_amqp._core.wire import (
    EMPTY_PROPERTIES,
    FRAME_BODY,
    FRAME_HEADER,
    FRAME_METHOD,
    FrameReader,
    decode_content_header,
    decode_method,
    decode_properties,
    encode_ack,
    encode_content,
    encode_method,
    encode_publish,
    erlang_binary,
    make_method,
)

METHODS = [
    commands.Queue.Declare(queue="q", durable=True, arguments={"x-max-priority": 4}),
    commands.Exchange.Declare(exchange="ex", exchange_type="topic", auto_delete=True),
    commands.Basic.Consume(queue="q", consumer_tag="tag", no_ack=True, exclusive=True),
    commands.Basic.Ack(delivery_tag=12345678901, multiple=True),
    commands.Basic.Nack(delivery_tag=7, multiple=False, requeue=False),
    commands.Basic.Qos(prefetch_count=10, global_=True),
    commands.Connection.Tune(channel_max=2047, frame_max=131072, heartbeat=60),
    commands.Channel.Close(406, "PRECONDITION_FAILED - x", 50, 10),
    commands.Queue.Delete(queue="q", if_unused=True, if_empty=True, nowait=True),
    commands.Basic.Deliver("ctag", 3, True, "ex", "rk"),
]


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_encode_method_matches_pamqp_byte_for_byte(method: commands.Basic.Ack) -> None:
    assert encode_method(5, method) == pamqp_frame.marshal(method, 5)


@given(
    exchange=st.text(alphabet="abcXYZ09-_.:", max_size=60),
    routing_key=st.text(max_size=60),
    mandatory=st.booleans(),
    immediate=st.booleans(),
    channel_id=st.integers(1, 65535),
)
def test_encode_publish_matches_pamqp(
    exchange: str, routing_key: str, mandatory: bool, immediate: bool, channel_id: int
) -> None:
    method = commands.Basic.Publish(
        exchange=exchange, routing_key=routing_key, mandatory=mandatory, immediate=immediate
    )
    fast = encode_publish(channel_id, exchange.encode(), routing_key.encode(), mandatory, immediate)
    assert fast == pamqp_frame.marshal(method, channel_id)


def test_make_method_accepts_names_pamqp_would_refuse() -> None:
    long_name = "é" * 120  # 240 bytes: legal for RabbitMQ, refused by pamqp's 0-8 grammar
    with pytest.raises(ValueError, match="queue"):
        commands.Queue.Declare(queue=long_name)
    method = make_method(commands.Queue.Declare, queue=long_name)
    decoded = decode_method(encode_method(1, method)[7:-1])
    assert isinstance(decoded, commands.Queue.Declare)
    assert decoded.queue == long_name


def test_short_string_over_255_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="255"):
        encode_method(1, make_method(commands.Queue.Declare, queue="q" * 256))


def test_reader_cuts_frames_across_arbitrary_chunking() -> None:
    stream = b"".join(
        encode_method(channel_id, method) for channel_id, method in enumerate(METHODS, start=1)
    )
    for chunk_size in (1, 3, 7, 64, len(stream)):
        reader = FrameReader()
        frames = []
        for start in range(0, len(stream), chunk_size):
            frames.extend(reader.feed(stream[start : start + chunk_size]))
        assert [channel_id for _, channel_id, _ in frames] == list(range(1, len(METHODS) + 1))
        assert [type(decode_method(payload)) for _, _, payload in frames] == [
            type(method) for method in METHODS
        ]
        assert reader.buffered == 0


def test_bad_frame_end_is_rabbitmq_frame_error() -> None:
    frame = bytearray(encode_method(1, commands.Basic.Ack(1)))
    frame[-1] = 0x00
    with pytest.raises(FrameError) as caught:
        FrameReader().feed(bytes(frame))
    assert caught.value.reply_code == 501
    # As RabbitMQ 3.10 sends it: "all octets" up to 16 (else "first 16 octets"), and
    # Erlang's ~p breaks the tuple that would pass column 80.
    assert caught.value.reply_text == (
        "FRAME_ERROR - type 1, all octets = <<0,60,0,80,0,0,0,0,0,0,0,1,0>>: "
        "{invalid_frame_end_marker,\n" + " " * 55 + "0}"
    )
    assert (caught.value.class_id, caught.value.method_id) == (0, 0)


def test_frame_larger_than_frame_max_is_refused_before_reading_it() -> None:
    reader = FrameReader(max_frame_size=4096)
    header = struct.pack(">BHI", FRAME_BODY, 1, 8000)
    with pytest.raises(FrameError) as caught:
        reader.feed(header)
    assert caught.value.reply_text == (
        "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,8000,4088}"
    )


def test_unknown_frame_type_text() -> None:
    with pytest.raises(FrameError) as caught:
        FrameReader().feed(struct.pack(">BHI", 7, 0, 3) + b"abc\xce")
    assert caught.value.reply_text == 'FRAME_ERROR - type 7, all octets = <<"abc">>: unknown_frame'


def test_erlang_binary_formatting() -> None:
    assert erlang_binary(b"") == "<<>>"
    assert erlang_binary(b"abc") == '<<"abc">>'
    assert erlang_binary(b'a"b') == '<<"a\\"b">>'
    assert erlang_binary(b"\x00\x01\xff") == "<<0,1,255>>"


def test_unknown_method_drops_the_socket_without_close() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_method(struct.pack(">HH", 99, 99))
    assert caught.value.send_close is False


def test_truncated_arguments_are_501_with_the_method_ids() -> None:
    payload = encode_method(1, commands.Queue.Declare(queue="abc"))[7:-1]
    with pytest.raises(FrameError) as caught:
        decode_method(payload[:7])
    assert caught.value.reply_code == 501
    assert caught.value.reply_text.startswith("FRAME_ERROR - cannot decode <<")
    assert (caught.value.class_id, caught.value.method_id) == (50, 10)


@pytest.mark.parametrize(
    ("body_size", "frame_max", "expected_chunks"),
    [
        (0, 4096, []),
        (10, 4096, [10]),
        (4088, 4096, [4088]),
        (4089, 4096, [4088, 1]),
        (1 << 20, 131072, [131064] * 8 + [64]),
    ],
)
def test_encode_content_splits_body_at_frame_max_minus_8(
    body_size: int, frame_max: int, expected_chunks: list[int]
) -> None:
    body = bytes(range(256)) * (body_size // 256) + bytes(body_size % 256)
    data = b"".join(encode_content(3, EMPTY_PROPERTIES, body, frame_max))
    frames = FrameReader(max_frame_size=frame_max).feed(data)
    assert frames[0][0] == FRAME_HEADER
    class_id, size, properties = decode_content_header(frames[0][2])
    assert (class_id, size, properties) == (60, body_size, EMPTY_PROPERTIES)
    assert [len(payload) for kind, _, payload in frames[1:] if kind == FRAME_BODY] == (
        expected_chunks
    )
    assert b"".join(payload for _, _, payload in frames[1:]) == body
    assert all(channel_id == 3 for _, channel_id, _ in frames)
    assert FRAME_METHOD not in [kind for kind, _, _ in frames]


def test_properties_round_trip_through_pamqp() -> None:
    properties = commands.Basic.Properties(
        content_type="application/json",
        headers={"a": 1, "b": "two", "nested": {"x": [1, 2]}},
        delivery_mode=2,
        priority=5,
        correlation_id="c",
        reply_to="r",
        expiration="1000",
        message_id="m",
        message_type="t",
        user_id="guest",
        app_id="app",
    )
    decoded = decode_properties(properties.marshal())
    assert decoded == properties


def test_properties_with_more_than_15_flags_use_continuation_words() -> None:
    payload = b"\x00\x01\x00\x00"  # first word says "continued", second word is empty
    assert decode_properties(payload) == commands.Basic.Properties()


@given(
    consumer_tag=st.text(max_size=40),
    delivery_tag=st.integers(0, 2**63 - 1),
    redelivered=st.booleans(),
    exchange=st.text(max_size=40),
    routing_key=st.text(max_size=60),
)
def test_fast_deliver_decoder_equals_pamqp(
    consumer_tag: str, delivery_tag: int, redelivered: bool, exchange: str, routing_key: str
) -> None:
    method = make_method(
        commands.Basic.Deliver,
        consumer_tag=consumer_tag,
        delivery_tag=delivery_tag,
        redelivered=redelivered,
        exchange=exchange,
        routing_key=routing_key,
    )
    payload = encode_method(1, method)[7:-1]
    reference = commands.Basic.Deliver()
    reference.unmarshal(payload[4:])
    decoded = decode_method(payload)
    assert type(decoded) is commands.Basic.Deliver
    assert dict(decoded) == dict(reference)


@given(
    exchange=st.text(max_size=40),
    routing_key=st.text(max_size=60),
    mandatory=st.booleans(),
    immediate=st.booleans(),
)
def test_fast_publish_decoder_equals_pamqp(
    exchange: str, routing_key: str, mandatory: bool, immediate: bool
) -> None:
    payload = encode_publish(1, exchange.encode(), routing_key.encode(), mandatory, immediate)[7:-1]
    reference = commands.Basic.Publish()
    reference.unmarshal(payload[4:])
    assert dict(decode_method(payload)) == dict(reference)


@given(delivery_tag=st.integers(0, 2**63 - 1), multiple=st.booleans())
def test_fast_ack_decoder_equals_pamqp(delivery_tag: int, multiple: bool) -> None:
    payload = encode_method(1, commands.Basic.Ack(delivery_tag, multiple))[7:-1]
    reference = commands.Basic.Ack()
    reference.unmarshal(payload[4:])
    assert dict(decode_method(payload)) == dict(reference)


def test_truncated_hot_methods_still_get_rabbitmq_errors() -> None:
    payload = encode_method(1, commands.Basic.Publish(exchange="ex", routing_key="rk"))[7:-1]
    with pytest.raises(FrameError) as caught:
        decode_method(payload[:8])
    assert (caught.value.class_id, caught.value.method_id) == (60, 40)


@given(
    channel_id=st.integers(0, 65535), delivery_tag=st.integers(0, 2**63 - 1), multiple=st.booleans()
)
def test_encode_ack_matches_pamqp(channel_id: int, delivery_tag: int, multiple: bool) -> None:
    assert encode_ack(channel_id, delivery_tag, multiple) == pamqp_frame.marshal(
        commands.Basic.Ack(delivery_tag, multiple), channel_id
    )
