"""The h11-style ``receive_data()``/``next_event()`` of both connection cores."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamqp import commands

from async_amqp._core import events as ev
from async_amqp._core import server as sv
from async_amqp._core.client import ClientConnection
from async_amqp._core.errors import ProtocolError
from async_amqp._core.incremental import NEED_DATA, FrameSplitter
from async_amqp._core.wire import PROTOCOL_HEADER, encode_method


def _server() -> sv.ServerConnection:
    return sv.ServerConnection(server_properties={"product": "test"}, frame_max=4096)


def _drain(core: sv.ServerConnection | ClientConnection) -> list[object]:
    """Take every event, answering the server's login and open decisions as they come."""
    events: list[object] = []
    while (event := core.next_event()) is not NEED_DATA:
        events.append(event)
        if isinstance(event, sv.LoginRequested):
            assert isinstance(core, sv.ServerConnection)
            core.accept_login()
        elif isinstance(event, sv.OpenRequested):
            assert isinstance(core, sv.ServerConnection)
            core.accept_open()
    return events


def _client_stream() -> bytes:
    """A client's handshake up to connection.open, then channel.open."""
    start_ok = commands.Connection.StartOk(
        client_properties={}, mechanism="PLAIN", response="\0guest\0guest", locale="en_US"
    )
    return (
        PROTOCOL_HEADER
        + encode_method(0, start_ok)
        + encode_method(0, commands.Connection.TuneOk(2047, 4096, 0))
        + encode_method(0, commands.Connection.Open("/"))
        + encode_method(1, commands.Channel.Open())
    )


def _run_server(chunks: list[bytes]) -> tuple[list[type], bytes]:
    core = _server()
    kinds: list[type] = []
    for chunk in chunks:
        core.receive_data(chunk, 0.0)
        kinds.extend(type(event) for event in _drain(core))
    return kinds, core.data_to_send(0.0)


@given(st.lists(st.integers(min_value=1, max_value=40), max_size=30))
def test_server_events_do_not_depend_on_how_bytes_arrive(cuts: list[int]) -> None:
    stream = _client_stream()
    chunks, position = [], 0
    for size in cuts:
        chunks.append(stream[position : position + size])
        position += size
    chunks.append(stream[position:])
    assert _run_server(chunks) == _run_server([stream])
    kinds, _ = _run_server([stream])
    assert kinds == [sv.LoginRequested, sv.TuneAccepted, sv.OpenRequested, sv.ChannelOpened]


def test_server_replies_to_earlier_frames_before_an_error() -> None:
    """channel.open then a bad frame in one chunk: open-ok is queued, then the error."""
    core = _server()
    stream = _client_stream()
    channel_open = encode_method(1, commands.Channel.Open())
    core.receive_data(stream[: -len(channel_open)], 0.0)
    assert len(_drain(core)) == 3
    core.data_to_send(0.0)
    core.receive_data(channel_open + b"\x01\x00\x02\x00\x00\x00\x04\x00\x14\x00\x0a\x00", 0.0)
    assert isinstance(core.next_event(), sv.ChannelOpened)
    with pytest.raises(ProtocolError):
        core.next_event()
    assert core.data_to_send(0.0).startswith(b"\x01\x00\x01")  # channel 1's open-ok


def test_client_next_event_matches_receive() -> None:
    client = ClientConnection()
    client.initiate()
    start = commands.Connection.Start(
        server_properties={"product": "x"}, mechanisms="PLAIN", locales="en_US"
    )
    tune = commands.Connection.Tune(channel_max=8, frame_max=4096, heartbeat=0)
    data = encode_method(0, start) + encode_method(0, tune)
    for byte in data:
        client.receive_data(bytes([byte]), 0.0)
    assert client.next_event() is NEED_DATA  # start and tune are answered, not reported
    assert client.data_to_send(0.0)  # the protocol header, start-ok, tune-ok and open
    client.receive_data(encode_method(0, commands.Connection.OpenOk()), 0.0)
    opened = _drain(client)
    assert len(opened) == 1
    assert isinstance(opened[0], ev.ConnectionOpened)
    assert client.next_event() is NEED_DATA


def test_splitter_cuts_header_then_frames() -> None:
    splitter = FrameSplitter()
    frame = encode_method(0, commands.Connection.CloseOk())
    pieces = splitter.split(PROTOCOL_HEADER + frame + frame[:3])
    assert [piece for _, piece, _ in pieces] == [PROTOCOL_HEADER, frame, frame[:3]]
    assert [whole for _, _, whole in pieces] == [False, True, False]
    client_side = FrameSplitter(header_size=0)
    assert [piece for _, piece, _ in client_side.split(frame + frame)] == [frame, frame]
