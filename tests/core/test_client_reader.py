"""The client core's first line of defence: the greeting, frame headers checked before
their payload is awaited, and the tuning it refuses."""

from __future__ import annotations

import struct

import pytest
from pamqp import commands

from async_amqp._core.client import ClientConnection, ConnectionState
from async_amqp._core.errors import FrameError, NotAmqpPeer, ProtocolError, ProtocolHeaderMismatch
from async_amqp._core.wire import encode_method

START = encode_method(
    0, commands.Connection.Start(server_properties={}, mechanisms="PLAIN", locales="en_US")
)


def _client() -> ClientConnection:
    client = ClientConnection()
    client.initiate()
    client.data_to_send(0.0)
    return client


@pytest.mark.parametrize("header", [b"AMQP\x00\x00\x09\x01", b"AMQP\x01\x01\x08\x00"])
def test_a_protocol_header_is_recognised_one_byte_at_a_time(header: bytes) -> None:
    client = _client()
    for octet in header[:-1]:
        assert client.receive(bytes((octet,)), 0.0) == []
    with pytest.raises(ProtocolHeaderMismatch) as caught:
        client.receive(header[-1:], 0.0)
    assert caught.value.received == header


@pytest.mark.parametrize("greeting", [b"I", b"HTTP/1.1 400", b"\x01\x00\x07", b"\x08"])
def test_anything_but_a_method_frame_on_channel_0_is_not_amqp(greeting: bytes) -> None:
    with pytest.raises(NotAmqpPeer) as caught:
        _client().receive(greeting, 0.0)
    assert caught.value.send_close is False
    assert caught.value.received == greeting


def test_connection_start_split_anywhere_is_accepted() -> None:
    for cut in range(1, len(START)):
        client = _client()
        client.receive(START[:cut], 0.0)
        client.receive(START[cut:], 0.0)
        assert client.state is ConnectionState.AWAIT_TUNE, cut


def test_a_frame_over_4096_bytes_before_tune_is_refused_by_its_header() -> None:
    with pytest.raises(FrameError, match="frame_too_large"):
        _client().receive(struct.pack(">BHI", 1, 0, 10_000), 0.0)


def test_an_unknown_frame_type_is_refused_by_its_header() -> None:
    client = _client()
    client.receive(START, 0.0)
    with pytest.raises(FrameError, match="unknown frame type 9"):
        client.receive(struct.pack(">BHI", 9, 0, 2**31), 0.0)


@pytest.mark.parametrize("frame_max", [1, 8, 4095])
def test_a_tune_below_4096_is_refused_with_530(frame_max: int) -> None:
    client = _client()
    client.receive(START, 0.0)
    tune = encode_method(0, commands.Connection.Tune(2047, frame_max, 60))
    with pytest.raises(ProtocolError) as caught:
        client.receive(tune, 0.0)
    assert caught.value.reply_code == 530
    assert (caught.value.class_id, caught.value.method_id) == (10, 30)


def test_a_tune_of_0_means_no_limit_and_4096_is_enough() -> None:
    for offered, agreed in ((0, 131072), (4096, 4096)):
        client = _client()
        client.receive(START, 0.0)
        client.receive(encode_method(0, commands.Connection.Tune(2047, offered, 60)), 0.0)
        assert client.frame_max == agreed
