"""The two things the broker's wire side needs from the server core beyond the client's
needs: the raw payload of each method (field tables keep their type tags there) and the
content of client-sent deliver/get-ok/return being read before the method is refused."""

from __future__ import annotations

import struct

from pamqp import commands

from async_amqp._core import server as sv
from async_amqp._core.wire import EMPTY_PROPERTIES, PROTOCOL_HEADER, encode_content, encode_method
from async_amqp_testing.raw import amqplain_response


def _open_server() -> sv.ServerConnection:
    server = sv.ServerConnection(server_properties={"product": "test"})
    server.receive(PROTOCOL_HEADER, 0.0)
    start_ok = commands.Connection.StartOk(
        client_properties={}, mechanism="AMQPLAIN", response="", locale="en_US"
    )
    start_ok.response = amqplain_response("guest", "guest")  # type: ignore[assignment]  # pamqp: str; sent byte for byte
    server.receive(encode_method(0, start_ok), 0.0)
    server.accept_login()
    server.receive(encode_method(0, commands.Connection.TuneOk(2047, 131072, 0)), 0.0)
    server.receive(encode_method(0, commands.Connection.Open()), 0.0)
    server.accept_open()
    server.receive(encode_method(1, commands.Channel.Open()), 0.0)
    server.data_to_send(0.0)
    return server


def test_method_received_carries_the_payload_as_sent() -> None:
    server = _open_server()
    # x-max-length as a short ('s'): pamqp would decode it to a plain int.
    table = b"\x0cx-max-lengths\x00\x05"
    payload = (
        struct.pack(">HHH", 50, 10, 0) + b"\x01q" + b"\x00" + struct.pack(">I", len(table)) + table
    )
    frame = struct.pack(">BHI", 1, 1, len(payload)) + payload + b"\xce"
    (event,) = server.receive(frame, 0.0)
    assert isinstance(event, sv.MethodReceived)
    assert isinstance(event.method, commands.Queue.Declare)
    assert event.payload == payload


def test_client_sent_deliver_is_reported_after_its_content() -> None:
    server = _open_server()
    deliver = commands.Basic.Deliver("ctag", 1, False, "", "rk")
    assert server.receive(encode_method(1, deliver), 0.0) == []
    content = b"".join(bytes(p) for p in encode_content(1, EMPTY_PROPERTIES, b"hi", 131072))
    (event,) = server.receive(content, 0.0)
    assert isinstance(event, sv.ContentReceived)
    assert isinstance(event.method, commands.Basic.Deliver)
    assert event.body == b"hi"
