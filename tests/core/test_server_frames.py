"""The server's hand-packed deliver frame and its publisher ack (wire.encode_ack) equal the
generic encoder's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pamqp import commands

from async_amqp._core.server_frames import ServerOutput, encode_deliver
from async_amqp._core.wire import encode_ack, encode_content, encode_method, make_method

short = st.text(max_size=40).filter(lambda text: len(text.encode()) <= 255)
channel_ids = st.integers(0, 65535)
tags = st.integers(0, 2**63 - 1)


@given(channel_ids, short, tags, st.booleans(), short, short)
def test_deliver_equals_generic(
    channel_id: int,
    consumer_tag: str,
    delivery_tag: int,
    redelivered: bool,
    exchange: str,
    routing_key: str,
) -> None:
    generic = encode_method(
        channel_id,
        make_method(
            commands.Basic.Deliver,
            consumer_tag=consumer_tag,
            delivery_tag=delivery_tag,
            redelivered=redelivered,
            exchange=exchange,
            routing_key=routing_key,
        ),
    )
    fast = encode_deliver(
        channel_id,
        consumer_tag.encode(),
        delivery_tag,
        redelivered,
        exchange.encode(),
        routing_key.encode(),
    )
    assert fast == generic


@given(channel_ids, tags, st.booleans())
def test_publisher_ack_equals_generic(channel_id: int, delivery_tag: int, multiple: bool) -> None:
    generic = encode_method(channel_id, commands.Basic.Ack(delivery_tag, multiple))
    assert encode_ack(channel_id, delivery_tag, multiple) == generic


@given(
    channel_ids,
    short,
    tags,
    st.booleans(),
    short,
    st.binary(max_size=40),
    st.sampled_from([b"", b"x", b"y" * 4096, b"z" * 4097, b"w" * 5000]),
    st.sampled_from([0, 4096, 131072]),
)
def test_send_deliver_equals_method_and_content_frames(
    channel_id: int,
    consumer_tag: str,
    delivery_tag: int,
    redelivered: bool,
    exchange: str,
    properties: bytes,
    body: bytes,
    frame_max: int,
) -> None:
    output = ServerOutput()
    output.frame_max = frame_max
    output.send_deliver(
        channel_id, consumer_tag, delivery_tag, redelivered, exchange, "key", properties, body
    )
    method = encode_deliver(
        channel_id, consumer_tag.encode(), delivery_tag, redelivered, exchange.encode(), b"key"
    )
    content = encode_content(channel_id, properties, body, frame_max)
    assert output.data_to_send(0.0) == method + b"".join(bytes(piece) for piece in content)
    # Again, from the parts kept for this channel, consumer tag, exchange and key.
    output.send_deliver(
        channel_id, consumer_tag, delivery_tag + 1, redelivered, exchange, "key", properties, body
    )
    method = encode_deliver(
        channel_id, consumer_tag.encode(), delivery_tag + 1, redelivered, exchange.encode(), b"key"
    )
    assert output.data_to_send(0.0) == method + b"".join(bytes(piece) for piece in content)
