"""How each protocol error ends the connection is carried by the error (``ClosePolicy``)."""

from __future__ import annotations

import struct

import pytest

from async_amqp._core.errors import ClosePolicy, FrameError, ProtocolError
from async_amqp._core.wire import FrameReader, decode_method


def test_default_policies_follow_send_close() -> None:
    assert ProtocolError(505, "x").policy is ClosePolicy.CLOSE
    silent = ProtocolError(505, "x", send_close=False)
    assert silent.policy is ClosePolicy.DROP_AFTER_DELAY
    assert not silent.send_close
    assert FrameError("x", policy=ClosePolicy.CLOSE_THEN_DROP).send_close


def test_bad_frame_end_closes_then_drops() -> None:
    reader = FrameReader()
    with pytest.raises(FrameError) as caught:
        reader.feed(b"\x01\x00\x01\x00\x00\x00\x04" + struct.pack(">HH", 20, 10) + b"\x00")
    assert caught.value.policy is ClosePolicy.CLOSE_THEN_DROP
    assert "invalid_frame_end_marker" in caught.value.reply_text


def test_oversized_frame_closes_then_drops() -> None:
    reader = FrameReader()
    reader.max_frame_size = 4096
    with pytest.raises(FrameError) as caught:
        reader.feed(b"\x03\x00\x01\x00\x01\x00\x00")
    assert caught.value.policy is ClosePolicy.CLOSE_THEN_DROP


def test_unknown_method_drops_now() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_method(struct.pack(">HH", 99, 1), strict=True)
    assert caught.value.policy is ClosePolicy.DROP_NOW
    assert caught.value.reply_code == 503


def test_bad_field_table_in_arguments_drops_now() -> None:
    # exchange.declare with an arguments table holding an unknown type tag 'Z'
    args = b"\x00\x00" + b"\x01x" + b"\x06direct" + b"\x00" + struct.pack(">I", 4) + b"\x01kZ\x00"
    with pytest.raises(ProtocolError) as caught:
        decode_method(struct.pack(">HH", 40, 10) + args, strict=True)
    assert caught.value.policy is ClosePolicy.DROP_NOW
    assert (caught.value.class_id, caught.value.method_id) == (40, 10)
