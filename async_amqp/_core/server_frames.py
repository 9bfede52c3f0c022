"""Hand-packed frames for the server's hot paths: basic.deliver and publisher acks.

Each function returns the same bytes as the generic encoder
(:func:`~.wire.encode_method` on the pamqp method), without building a pamqp
object or walking its argument list; the tests compare the two.
"""

from __future__ import annotations

import struct
from typing import Final

from pamqp import commands

from .wire import FRAME_END_BYTE, FRAME_METHOD

__all__ = ["encode_deliver", "encode_publisher_ack"]

_frame_head: Final = struct.Struct(">BHI")
_DELIVER_INDEX: Final = struct.pack(">I", commands.Basic.Deliver.index)
_tag_and_flags: Final = struct.Struct(">QB")
_settle_frame: Final = struct.Struct(">BHIIQB")
_SETTLE_PAYLOAD_SIZE: Final = 13


def encode_deliver(
    channel_id: int,
    consumer_tag: bytes,
    delivery_tag: int,
    redelivered: bool,
    exchange: bytes,
    routing_key: bytes,
) -> bytes:
    """A basic.deliver method frame (short strings already encoded, each ≤ 255 bytes)."""
    payload = b"".join(
        (
            _DELIVER_INDEX,
            bytes((len(consumer_tag),)),
            consumer_tag,
            _tag_and_flags.pack(delivery_tag, redelivered),
            bytes((len(exchange),)),
            exchange,
            bytes((len(routing_key),)),
            routing_key,
        )
    )
    return _frame_head.pack(FRAME_METHOD, channel_id, len(payload)) + payload + FRAME_END_BYTE


def encode_publisher_ack(channel_id: int, delivery_tag: int, multiple: bool) -> bytes:
    """A basic.ack method frame confirming publishes."""
    return (
        _settle_frame.pack(
            FRAME_METHOD,
            channel_id,
            _SETTLE_PAYLOAD_SIZE,
            commands.Basic.Ack.index,
            delivery_tag,
            multiple,
        )
        + FRAME_END_BYTE
    )
