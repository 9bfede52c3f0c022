"""The client and server cores talking to each other in memory: handshake, channels,
content, confirms, closes, and the protocol errors each side detects."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from pamqp import commands

from async_amqp._core import events as ev
from async_amqp._core import server as sv
from async_amqp._core.client import (
    ChannelState,
    ChannelUnavailable,
    ClientConnection,
    ConnectionState,
    NoFreeChannel,
    negotiate,
    negotiate_heartbeat,
    sasl_response,
)
from async_amqp._core.errors import ProtocolError, ProtocolHeaderMismatch
from async_amqp._core.heartbeat import HeartbeatAction
from async_amqp._core.wire import (
    EMPTY_PROPERTIES,
    PROTOCOL_HEADER,
    FrameReader,
    encode_content,
    encode_method,
)


class Pair:
    """A client core and a server core wired back to back."""

    def __init__(self, **client_kwargs: Any) -> None:
        self.client = ClientConnection(**client_kwargs)
        self.server = sv.ServerConnection(
            server_properties={"product": "test"}, channel_max=8, frame_max=4096, heartbeat=30
        )
        self.client_events: list[ev.Event] = []
        self.server_events: list[sv.ServerEvent] = []
        self.now = 0.0

    def pump(self) -> None:
        """Move bytes both ways until both sides are quiet."""
        while self.client.has_data_to_send or self.server.has_data_to_send:
            data = self.client.data_to_send(self.now)
            if data:
                self.server_events += self.server.receive(data, self.now)
            data = self.server.data_to_send(self.now)
            if data:
                self.client_events += self.client.receive(data, self.now)

    def handshake(self) -> None:
        self.client.initiate()
        self.pump()
        login = self.server_events.pop()
        assert isinstance(login, sv.LoginRequested)
        self.server.accept_login()
        self.pump()
        assert isinstance(self.server_events.pop(), sv.OpenRequested)
        self.server.accept_open()
        self.pump()


def test_handshake_negotiates_and_opens() -> None:
    pair = Pair(login="bob", password="secret", virtualhost="vh", heartbeat=10)
    pair.client.initiate()
    pair.pump()
    login = pair.server_events[-1]
    assert isinstance(login, sv.LoginRequested)
    assert login.mechanism == "PLAIN"
    assert login.response == b"\0bob\0secret"
    capabilities = login.client_properties["capabilities"]
    for name in (
        "publisher_confirms",
        "consumer_cancel_notify",
        "exchange_exchange_bindings",
        "basic.nack",
        "connection.blocked",
        "authentication_failure_close",
    ):
        assert capabilities[name] is True
    pair.server.accept_login()
    pair.pump()
    tune = pair.server_events[-2]
    assert isinstance(tune, sv.TuneAccepted)
    assert (tune.channel_max, tune.frame_max, tune.heartbeat) == (8, 4096, 10)
    assert isinstance(pair.server_events[-1], sv.OpenRequested)
    assert pair.server_events[-1].virtual_host == "vh"
    pair.server.accept_open()
    pair.pump()
    opened = pair.client_events[-1]
    assert isinstance(opened, ev.ConnectionOpened)
    assert opened.server_properties == {"product": "test"}
    assert pair.client.state is ConnectionState.OPEN


def test_password_never_appears_in_repr_or_properties() -> None:
    client = ClientConnection(password="hunter2")
    assert "hunter2" not in repr(vars(client).get("client_properties"))


def test_amqplain_response_is_a_table_without_length() -> None:
    assert sasl_response("AMQPLAIN", "u", "p") == (
        b"\x05LOGINS\x00\x00\x00\x01u\x08PASSWORDS\x00\x00\x00\x01p"
    )
    with pytest.raises(ValueError, match="CRAM"):
        sasl_response("CRAM", "u", "p")


@pytest.mark.parametrize(
    ("requested", "offered", "expected"),
    [
        (None, 2047, 2047),
        (100, 2047, 100),
        (5000, 2047, 2047),
        (0, 2047, 2047),
        (None, 0, 65535),
        (10, 0, 10),
    ],
)
def test_negotiate(requested: int | None, offered: int, expected: int) -> None:
    assert negotiate(requested, offered, 65535) == expected


@pytest.mark.parametrize(
    ("requested", "offered", "expected"),
    [(None, 60, 60), (0, 60, 0), (10, 60, 10), (100, 60, 60), (10, 0, 10), (None, 0, 0)],
)
def test_negotiate_heartbeat(requested: int | None, offered: int, expected: int) -> None:
    assert negotiate_heartbeat(requested, offered) == expected


def test_frame_max_below_minimum_is_refused_early() -> None:
    with pytest.raises(ValueError, match="4096"):
        ClientConnection(frame_max=1000)


def test_refused_protocol_header_is_detected() -> None:
    client = ClientConnection()
    client.initiate()
    with pytest.raises(ProtocolHeaderMismatch):
        client.receive(PROTOCOL_HEADER, 0.0)


def test_server_refuses_unknown_protocol_header() -> None:
    server = sv.ServerConnection(server_properties={})
    events = server.receive(b"HTTP/1.1", 0.0)
    assert isinstance(events[0], sv.ProtocolHeaderRefused)
    assert server.data_to_send(0.0) == PROTOCOL_HEADER
    assert server.state is sv.ServerState.CLOSED


def test_server_accepts_the_0_9_header() -> None:
    server = sv.ServerConnection(server_properties={})
    assert server.receive(b"AMQP\x01\x01\x00\x09", 0.0) == []
    assert server.state is sv.ServerState.AWAIT_START_OK


def test_login_refusal_with_capability_is_403_close() -> None:
    pair = Pair()
    pair.client.initiate()
    pair.pump()
    pair.server.refuse_login("PLAIN", send_close=True)
    pair.pump()
    closed = pair.client_events[-1]
    assert isinstance(closed, ev.ConnectionClosed)
    assert closed.reply_code == 403
    assert closed.reply_text.startswith(
        "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN."
    )
    assert isinstance(pair.server_events[-1], sv.ConnectionCloseConfirmed)


def open_channel(pair: Pair) -> int:
    channel_id, slot = pair.client.open_channel("waiter")
    pair.pump()
    reply = pair.client_events[-1]
    assert isinstance(reply, ev.ReplyArrived)
    assert reply.slot is slot
    assert isinstance(reply.method, commands.Channel.OpenOk)
    assert isinstance(pair.server_events[-1], sv.ChannelOpened)
    return channel_id


def test_channel_numbers_are_lowest_free_and_reused() -> None:
    pair = Pair()
    pair.handshake()
    assert [open_channel(pair) for _ in range(3)] == [1, 2, 3]
    pair.client.call(2, commands.Channel.Close(200, "bye", 0, 0), "w")
    assert pair.client.channel_state(2) is ChannelState.CLOSING
    pair.pump()
    assert isinstance(pair.server_events[-1], sv.ChannelClosedByClient)
    closed = pair.client_events[-1]
    assert isinstance(closed, ev.ChannelClosed)
    assert closed.by_server is False
    assert open_channel(pair) == 2


def test_channel_max_exhaustion() -> None:
    pair = Pair(channel_max=2)
    pair.handshake()
    open_channel(pair)
    open_channel(pair)
    with pytest.raises(NoFreeChannel):
        pair.client.open_channel()


def test_publish_and_deliver_split_over_frames() -> None:
    pair = Pair()
    pair.handshake()
    channel_id = open_channel(pair)
    body = bytes(range(256)) * 40  # 10240 bytes: three body frames at frame_max 4096
    pair.client.publish(channel_id, "ex", "rk", True, False, EMPTY_PROPERTIES, body)
    pair.pump()
    received = pair.server_events[-1]
    assert isinstance(received, sv.ContentReceived)
    assert isinstance(received.method, commands.Basic.Publish)
    assert (received.method.exchange, received.method.routing_key) == ("ex", "rk")
    assert received.method.mandatory is True
    assert received.body == body
    pair.server.send_content(
        channel_id,
        commands.Basic.Deliver("ctag", 1, False, "ex", "rk"),
        received.properties_payload,
        body,
    )
    pair.pump()
    delivered = pair.client_events[-1]
    assert isinstance(delivered, ev.MessageDelivered)
    assert delivered.body == body
    assert delivered.method.consumer_tag == "ctag"


def test_get_ok_reply_carries_its_message() -> None:
    pair = Pair()
    pair.handshake()
    channel_id = open_channel(pair)
    slot = pair.client.call(channel_id, commands.Basic.Get(queue="q"), "w")
    pair.pump()
    pair.server.send_content(
        channel_id, commands.Basic.GetOk(1, False, "", "q", 0), EMPTY_PROPERTIES, b"hi"
    )
    pair.pump()
    reply = pair.client_events[-1]
    assert isinstance(reply, ev.ReplyArrived)
    assert reply.slot is slot
    assert reply.body == b"hi"


def test_confirm_acks_with_multiple_settle_every_covered_publish() -> None:
    pair = Pair()
    pair.handshake()
    channel_id = open_channel(pair)
    pair.client.call(channel_id, commands.Confirm.Select(), "select")
    pair.pump()
    tags = [
        pair.client.publish(channel_id, "", "q", False, False, EMPTY_PROPERTIES, b"x", n)
        for n in range(5)
    ]
    assert tags == [1, 2, 3, 4, 5]
    pair.server.send_method(channel_id, commands.Basic.Ack(3, multiple=True))
    pair.server.send_method(channel_id, commands.Basic.Nack(5))
    pair.server.send_method(channel_id, commands.Basic.Ack(4))
    pair.pump()
    settled = [e for e in pair.client_events if isinstance(e, ev.PublishesSettled)]
    assert [(e.ack, [token for token, _ in e.settled]) for e in settled] == [
        (True, [0, 1, 2]),
        (False, [4]),
        (True, [3]),
    ]


def test_return_before_ack_is_matched_to_its_publish() -> None:
    pair = Pair()
    pair.handshake()
    channel_id = open_channel(pair)
    pair.client.call(channel_id, commands.Confirm.Select(), "select")
    pair.pump()
    pair.client.publish(channel_id, "", "q", True, False, EMPTY_PROPERTIES, b"ok", "first")
    pair.client.publish(channel_id, "", "nope", True, False, EMPTY_PROPERTIES, b"lost", "second")
    pair.server.send_content(
        channel_id, commands.Basic.Return(312, "NO_ROUTE", "", "nope"), EMPTY_PROPERTIES, b"lost"
    )
    pair.server.send_method(channel_id, commands.Basic.Ack(2, multiple=True))
    pair.pump()
    returned = next(e for e in pair.client_events if isinstance(e, ev.MessageReturned))
    assert returned.token == "second"
    settled = next(e for e in pair.client_events if isinstance(e, ev.PublishesSettled))
    assert settled.settled == [("first", False), ("second", True)]


def test_server_channel_close_fails_pending_and_sends_close_ok() -> None:
    pair = Pair()
    pair.handshake()
    channel_id = open_channel(pair)
    slot = pair.client.call(channel_id, commands.Queue.Declare(queue="q", passive=True), "w")
    pair.pump()
    pair.server.close_channel(channel_id, 404, "NOT_FOUND - no queue 'q' in vhost '/'", 50, 10)
    pair.pump()
    closed = pair.client_events[-1]
    assert isinstance(closed, ev.ChannelClosed)
    assert (closed.reply_code, closed.class_id, closed.method_id) == (404, 50, 10)
    assert closed.by_server is True
    assert closed.pending == [slot]
    assert isinstance(pair.server_events[-1], sv.ChannelCloseConfirmed)
    with pytest.raises(ChannelUnavailable):
        pair.client.call(channel_id, commands.Basic.Qos(), None)


def test_frames_crossing_our_channel_close_are_dropped() -> None:
    pair = Pair()
    pair.handshake()
    channel_id = open_channel(pair)
    pair.client.call(channel_id, commands.Channel.Close(200, "", 0, 0), "w")
    pair.server.send_content(
        channel_id, commands.Basic.Deliver("c", 1, False, "", "q"), EMPTY_PROPERTIES, b"late"
    )
    before = len(pair.client_events)
    pair.pump()
    new = pair.client_events[before:]
    assert [type(e) for e in new] == [ev.ChannelClosed]


def test_server_detects_method_on_unopened_channel() -> None:
    pair = Pair()
    pair.handshake()
    with pytest.raises(ProtocolError) as caught:
        pair.server.receive(encode_method(5, commands.Basic.Qos()), 0.0)
    assert caught.value.reply_code == 504
    assert caught.value.reply_text == "CHANNEL_ERROR - expected 'channel.open'"
    assert (caught.value.class_id, caught.value.method_id) == (60, 10)


def test_server_detects_second_channel_open_and_channel_max() -> None:
    pair = Pair()
    pair.handshake()
    channel_id = open_channel(pair)
    with pytest.raises(ProtocolError) as caught:
        pair.server.receive(encode_method(channel_id, commands.Channel.Open()), 0.0)
    assert caught.value.reply_text == "CHANNEL_ERROR - second 'channel.open' seen"
    for extra in range(2, 9):
        pair.server.receive(encode_method(extra, commands.Channel.Open()), 0.0)
    with pytest.raises(ProtocolError) as caught:
        pair.server.receive(encode_method(100, commands.Channel.Open()), 0.0)
    assert caught.value.reply_text == (
        "NOT_ALLOWED - number of channels opened (8) has reached the negotiated channel_max (8)"
    )


def test_server_rejects_connection_methods_on_a_channel_and_stray_close_ok() -> None:
    pair = Pair()
    pair.handshake()
    channel_id = open_channel(pair)
    with pytest.raises(ProtocolError) as caught:
        pair.server.receive(encode_method(channel_id, commands.Channel.CloseOk()), 0.0)
    assert caught.value.reply_text == "COMMAND_INVALID - unimplemented method"
    assert (caught.value.class_id, caught.value.method_id) == (20, 41)
    with pytest.raises(ProtocolError) as caught:
        pair.server.receive(encode_method(0, commands.Channel.Open()), 0.0)
    assert (
        caught.value.reply_text == "CHANNEL_ERROR - unexpected method in connection state running"
    )


def test_connection_close_from_server_is_an_event_and_close_ok_is_sent() -> None:
    pair = Pair()
    pair.handshake()
    pair.server.close_connection(320, "CONNECTION_FORCED - shutdown")
    pair.pump()
    closed = pair.client_events[-1]
    assert isinstance(closed, ev.ConnectionClosed)
    assert (closed.reply_code, closed.by_server) == (320, True)
    assert isinstance(pair.server_events[-1], sv.ConnectionCloseConfirmed)


def test_client_close_handshake() -> None:
    pair = Pair()
    pair.handshake()
    slot = pair.client.close(waiter="w")
    assert slot is not None
    pair.pump()
    assert isinstance(pair.server_events[-1], sv.ConnectionClosedByClient)
    assert isinstance(pair.client_events[-1], ev.ConnectionClosed)
    assert pair.client.state is ConnectionState.CLOSED


def test_heartbeats_are_sent_when_idle() -> None:
    pair = Pair(heartbeat=10)
    pair.handshake()
    assert pair.client.poll_heartbeat(4.0) is HeartbeatAction.NOTHING
    assert pair.client.poll_heartbeat(5.0) is HeartbeatAction.SEND
    assert pair.client.data_to_send(5.0) == b"\x08\x00\x00\x00\x00\x00\x00\xce"
    assert pair.client.poll_heartbeat(20.0) is HeartbeatAction.TIMED_OUT


def test_blocked_and_unblocked_events() -> None:
    pair = Pair()
    pair.handshake()
    pair.server.send_method(0, commands.Connection.Blocked("low on memory"))
    pair.server.send_method(0, commands.Connection.Unblocked())
    pair.pump()
    assert [type(e) for e in pair.client_events[-2:]] == [
        ev.ConnectionBlocked,
        ev.ConnectionUnblocked,
    ]
    blocked = pair.client_events[-2]
    assert isinstance(blocked, ev.ConnectionBlocked)
    assert blocked.reason == "low on memory"


def test_only_one_synchronous_request_per_channel_is_on_the_wire() -> None:
    pair = Pair()
    pair.handshake()
    channel_id = open_channel(pair)
    first = pair.client.call(channel_id, commands.Basic.Qos(prefetch_count=1), "first")
    second = pair.client.call(channel_id, commands.Basic.Qos(prefetch_count=2), "second")
    third = pair.client.call(channel_id, commands.Basic.Qos(prefetch_count=3), "third")
    assert (first.sent, second.sent, third.sent) == (True, False, False)
    pair.client.abandon(channel_id, second)  # never sent: dropped, not sent later
    pair.server.receive(pair.client.data_to_send(0.0), 0.0)
    pair.server.send_method(channel_id, commands.Basic.QosOk())
    pair.client_events += pair.client.receive(pair.server.data_to_send(0.0), 0.0)
    assert third.sent
    sent = pair.server.receive(pair.client.data_to_send(0.0), 0.0)
    (qos,) = sent
    assert isinstance(qos, sv.MethodReceived)
    assert isinstance(qos.method, commands.Basic.Qos)
    assert qos.method.prefetch_count == 3


def test_channel_close_goes_out_at_once_and_fails_queued_requests() -> None:
    pair = Pair()
    pair.handshake()
    channel_id = open_channel(pair)
    in_flight = pair.client.call(channel_id, commands.Basic.Qos(prefetch_count=1), "a")
    queued = pair.client.call(channel_id, commands.Basic.Recover(), "b")
    closing = pair.client.call(channel_id, commands.Channel.Close(200, "", 0, 0), "c")
    pair.pump()
    closed = pair.client_events[-1]
    assert isinstance(closed, ev.ChannelClosed)
    assert closed.pending == [in_flight, queued, closing]
    assert not queued.sent


def test_content_of_different_channels_may_interleave() -> None:
    pair = Pair()
    pair.handshake()
    first, second = open_channel(pair), open_channel(pair)
    pieces = {
        channel_id: [
            encode_method(channel_id, commands.Basic.Publish(exchange="", routing_key=str(n)))
        ]
        for n, channel_id in enumerate((first, second))
    }
    for channel_id, body in ((first, b"A" * 5000), (second, b"B" * 5000)):
        content = b"".join(
            encode_content(channel_id, EMPTY_PROPERTIES, body, pair.server.frame_max)
        )
        pieces[channel_id] += [  # one whole frame per item
            struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"
            for kind, channel, payload in FrameReader().feed(content)
        ]
    interleaved = [
        frame for pair_ in zip(pieces[first], pieces[second], strict=True) for frame in pair_
    ]
    events = pair.server.receive(b"".join(interleaved), 0.0)
    received = {e.channel_id: e.body for e in events if isinstance(e, sv.ContentReceived)}
    assert received == {first: b"A" * 5000, second: b"B" * 5000}
