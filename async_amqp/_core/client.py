"""The client side of an AMQP 0-9-1 connection, without I/O.

:class:`ClientConnection` turns received bytes into :mod:`events` and
requests into bytes to send. It owns the connection's state machine (the
handshake and tuning, with the pure parts in :mod:`.handshake`), channel
numbers, the request API, the receive loop and the heartbeat clock. Each
channel's own state, reply matching, content assembly and confirm bookkeeping
are a :class:`~.client_channel.ClientChannel`; the receive loop cuts whole
single-frame deliveries itself, the hot path. The anyio layer only moves
bytes, keeps waiters and runs user code.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import Any

from pamqp import commands
from pamqp.base import Frame

from .acks import AckQueue, note_settling
from .client_channel import ChannelState, ChannelUnavailable, ClientChannel, whole_delivery
from .client_connection import ConnectionMethods, ConnectionState
from .codes import REPLY_CODES, ReplyCode
from .confirms import ConfirmTracker
from .errors import ProtocolError
from .events import (
    ChannelClosed,
    Event,
)
from .handshake import (
    Greeting,
    build_client_properties,
    check_settings,
    negotiate,
    negotiate_heartbeat,
    sasl_response,
)
from .incremental import NEED_DATA, NeedData
from .replies import PendingReply
from .wire import (
    FRAME_BODY,
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    FRAME_METHOD,
    FRAME_MIN_SIZE,
    PROTOCOL_HEADER,
    FrameReader,
    decode_method,
    encode_content,
    encode_method,
    publish_frame,
)

__all__ = [
    "ChannelState",
    "ChannelUnavailable",
    "ClientConnection",
    "ConnectionState",
    "ConnectionUnavailable",
    "NoFreeChannel",
    "negotiate",
    "negotiate_heartbeat",
    "sasl_response",
]

_DELIVER_INDEX = commands.Basic.Deliver.index.to_bytes(4, "big")
_CONTENT_HEAD = struct.Struct(">HHQ")


class NoFreeChannel(Exception):
    """Every channel number up to channel_max is in use."""


class ConnectionUnavailable(Exception):
    """A request was made while the connection is not open."""


class ClientConnection(ConnectionMethods):
    """Sans-IO client connection.

    :param login: user name
    :param password: password (never appears in texts or reprs)
    :param virtualhost: vhost to open
    :param login_method: SASL mechanism: PLAIN, AMQPLAIN or EXTERNAL
    :param channel_max: requested channel_max, ``None`` for the server's
    :param frame_max: requested frame_max, ``None`` for the server's
    :param heartbeat: requested heartbeat seconds, ``None`` for the server's, 0 for none
    :param client_properties: extra client properties (merged over the defaults)
    :param insist: the deprecated ``insist`` bit of connection.open
    """

    def __init__(
        self,
        *,
        login: str = "guest",
        password: str = "guest",
        virtualhost: str = "/",
        login_method: str = "PLAIN",
        channel_max: int | None = None,
        frame_max: int | None = None,
        heartbeat: int | None = None,
        client_properties: dict[str, Any] | None = None,
        insist: bool = False,
        product_version: str = "0",
    ) -> None:
        check_settings(login_method, channel_max, frame_max, heartbeat)
        super().__init__()
        self.state = ConnectionState.AWAIT_START
        self._login = login
        self._password = password
        self.virtualhost = virtualhost
        self.login_method = login_method
        self._requested = (channel_max, frame_max, heartbeat)
        self._insist = insist
        self.client_properties = build_client_properties(product_version, client_properties)
        self.server_properties: dict[str, Any] = {}
        self.channel_max = 0
        self.frame_max = FRAME_MIN_SIZE
        self.heartbeat_interval = 0
        # Before tune, frames are limited to frame-min-size (AMQP 0-9-1, 4.2.3).
        self._reader = FrameReader(FRAME_MIN_SIZE, eager=True)
        self._greeting: Greeting | None = Greeting()  # None once the peer looks like AMQP
        self._channels: dict[int, ClientChannel] = {}
        self._close_slot: PendingReply | None = None
        # receive_data()/next_event(): bytes not yet read, events not yet taken
        self._received: list[bytes] = []
        self._events: deque[Event] = deque()
        self._received_at = 0.0
        self._acks = AckQueue()

    # -- output ---------------------------------------------------------------

    def initiate(self) -> None:
        """Queue the protocol header that opens the conversation."""
        self._outgoing.append(PROTOCOL_HEADER)

    # -- requests -------------------------------------------------------------

    def _require_open(self) -> None:
        if self.state is not ConnectionState.OPEN:
            raise ConnectionUnavailable(f"connection is {self.state.value}")

    def _open_channel_state(self, channel_id: int) -> ClientChannel:
        channel = self._channels.get(channel_id)
        if channel is None or channel.state is not ChannelState.OPEN:
            raise ChannelUnavailable(channel_id, channel.state if channel else None)
        return channel

    def channel_state(self, channel_id: int) -> ChannelState:
        """Return the state of *channel_id* (CLOSED when unknown)."""
        channel = self._channels.get(channel_id)
        return channel.state if channel else ChannelState.CLOSED

    def open_channel(self, waiter: Any = None) -> tuple[int, PendingReply]:
        """Allocate the lowest free channel number and send channel.open.

        :raises NoFreeChannel: when every number up to channel_max is taken
        """
        self._require_open()
        channels = self._channels
        for channel_id in range(1, self.channel_max + 1):
            if channel_id not in channels:
                break
        else:
            raise NoFreeChannel(f"all {self.channel_max} channels are in use")
        channel = channels[channel_id] = ClientChannel(channel_id, self._outgoing, channels)
        return channel_id, channel.request(commands.Channel.Open(), waiter)

    def call(self, channel_id: int, method: Frame, waiter: Any = None) -> PendingReply:
        """Queue a synchronous request on an open channel; return its reply slot.

        The request goes out when every earlier request of the channel has been
        answered; channel.close goes out at once.

        :raises ChannelUnavailable: when the channel is not open
        """
        self._require_open()
        return self._open_channel_state(channel_id).request(method, waiter)

    def abandon(self, channel_id: int, slot: PendingReply) -> None:
        """The caller of *slot* stopped waiting (see :meth:`ReplyQueue.abandon`)."""
        channel = self._channels.get(channel_id)
        if channel is None:
            return
        channel.replies.abandon(slot)
        if channel.state is ChannelState.OPEN:
            channel.send_next_request()

    def confirming(self, channel_id: int) -> bool:
        """True when publishes on *channel_id* will be confirmed."""
        channel = self._channels.get(channel_id)
        return channel is not None and channel.confirms is not None

    def send(self, channel_id: int, method: Frame) -> None:
        """Send a method that gets no reply (acks, ``no_wait`` requests).

        :raises ChannelUnavailable: when the channel is not open
        """
        self._require_open()
        channel = self._open_channel_state(channel_id)
        if type(method) is commands.Confirm.Select and channel.confirms is None:
            channel.confirms = ConfirmTracker()  # no_wait select: numbering starts now
        self._outgoing.append(encode_method(channel_id, method))
        note_settling(channel.acks, method)

    def ack(self, channel_id: int, delivery_tag: int, multiple: bool) -> None:
        """Send basic.ack (hot path of :meth:`send`).

        :raises ChannelUnavailable: when the channel is not open
        """
        if self.state is not ConnectionState.OPEN:
            raise ConnectionUnavailable(f"connection is {self.state.value}")
        channel = self._channels.get(channel_id)
        if channel is None or channel.state is not ChannelState.OPEN:
            raise ChannelUnavailable(channel_id, channel.state if channel else None)
        self._acks.queue(self._outgoing, channel.acks, channel_id, delivery_tag, multiple)

    def delivered(self, channel_id: int, delivery_tag: int, no_ack: bool) -> None:
        """The client took a delivery of *channel_id* (for merging acks, see :mod:`.acks`)."""
        channel = self._channels.get(channel_id)
        if channel is not None:
            channel.acks.delivered(delivery_tag, no_ack)

    def publish(
        self,
        channel_id: int,
        exchange: str,
        routing_key: str,
        mandatory: bool,
        immediate: bool,
        properties_payload: bytes,
        body: bytes,
        token: Any = None,
    ) -> int | None:
        """Queue a whole message (method, header, body frames) in one step.

        Returns the publish's confirm sequence number in confirm mode, else ``None``.

        :raises ChannelUnavailable: when the channel is not open
        :raises ValueError: when the exchange name or routing key exceeds 255 bytes
        """
        if self.state is not ConnectionState.OPEN:
            raise ConnectionUnavailable(f"connection is {self.state.value}")
        channel = self._channels.get(channel_id)
        if channel is None or channel.state is not ChannelState.OPEN:
            raise ChannelUnavailable(channel_id, channel.state if channel else None)
        outgoing = self._outgoing
        outgoing.append(publish_frame(channel_id, exchange, routing_key, mandatory, immediate))
        outgoing.extend(encode_content(channel_id, properties_payload, body, self.frame_max))
        self._pending_size += len(body) + 64
        confirms = channel.confirms
        if confirms is None:
            return None
        return confirms.published(
            token, mandatory=mandatory, exchange=exchange, routing_key=routing_key, body=body
        )

    def close(
        self,
        reply_code: int = ReplyCode.REPLY_SUCCESS,
        reply_text: str = REPLY_CODES[ReplyCode.REPLY_SUCCESS].default_text,
        waiter: Any = None,
    ) -> PendingReply | None:
        """Start the closing handshake; return the slot for close-ok (None if already closing)."""
        if self.state in (ConnectionState.CLOSING, ConnectionState.CLOSED):
            return None
        self.state = ConnectionState.CLOSING
        self._outgoing.append(
            encode_method(0, commands.Connection.Close(reply_code, reply_text, 0, 0))
        )
        self._close_slot = PendingReply(commands.Connection.Close, waiter)
        return self._close_slot

    @property
    def close_waiter(self) -> Any:
        """The waiter of our connection.close, once :meth:`close` was called."""
        return self._close_slot.waiter if self._close_slot is not None else None

    @property
    def mid_frame(self) -> bool:
        """True when part of a frame was received: a stream ending now was cut inside it."""
        return self._reader.buffered > 0 or bool(self._greeting and self._greeting.held)

    @property
    def login(self) -> str:
        """The user name we log in with (for messages; the password is never exposed)."""
        return self._login

    def fail(self, error: ProtocolError) -> None:
        """Tell the broker we are closing because it broke the protocol."""
        if self.state in (ConnectionState.CLOSING, ConnectionState.CLOSED):
            self.state = ConnectionState.CLOSED
            return
        self.state = ConnectionState.CLOSED
        if error.send_close:
            self._outgoing.append(
                encode_method(
                    0,
                    commands.Connection.Close(
                        error.reply_code, error.reply_text[:255], error.class_id, error.method_id
                    ),
                )
            )

    def connection_lost(self) -> None:
        """The transport is gone; nothing more can be sent."""
        self.state = ConnectionState.CLOSED
        self._outgoing.clear()

    def drain_channels(self) -> list[ChannelClosed]:
        """End every channel (connection gone); return what each left pending."""
        closed = [channel.lost() for channel in self._channels.values()]
        self._channels.clear()
        return closed

    # -- input ----------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Take bytes as received (h11-style); :meth:`next_event` returns their events."""
        self._received.append(data)
        self._received_at = now

    def next_event(self) -> Event | NeedData:
        """Return the next event of the bytes received, or :data:`NEED_DATA`.

        :raises ProtocolError: when the broker broke the protocol (then call :meth:`fail`)
        """
        events = self._events
        if not events and self._received:
            data = b"".join(self._received)
            self._received.clear()
            events.extend(self.receive(data, self._received_at))
        return events.popleft() if events else NEED_DATA

    def receive(self, data: bytes, now: float) -> list[Event]:
        """Consume received bytes; return the events they complete.

        :raises ProtocolError: when the broker broke the protocol (call :meth:`fail`)
        :raises ProtocolHeaderMismatch: when the broker refused our protocol version
        :raises NotAmqpPeer: when the peer's first bytes are not AMQP at all
        """
        self.heartbeat.received(now)
        if self._greeting is not None:
            data = self._greeting.feed(data)
            if self._greeting.passed:
                self._greeting = None
        events: list[Event] = []
        frames = self._reader.feed(data)
        index = 0
        count = len(frames)
        while index < count:
            frame_type, channel_id, payload = frames[index]
            index += 1
            if (
                frame_type == FRAME_METHOD
                and index + 1 < count
                and payload.startswith(_DELIVER_INDEX)
                and (delivered := whole_delivery(self._channels, frames, index - 1)) is not None
            ):
                events.append(delivered)
                index += 2
                continue
            if channel_id == 0:
                if frame_type == FRAME_METHOD:
                    event = self._on_connection_method(decode_method(payload))
                    if event is not None:
                        events.append(event)
                elif frame_type != FRAME_HEARTBEAT:
                    raise ProtocolError(
                        ReplyCode.UNEXPECTED_FRAME, f"type {frame_type} frame on channel 0"
                    )
                continue
            channel = self._channels.get(channel_id)
            if channel is None:
                raise ProtocolError(
                    ReplyCode.CHANNEL_ERROR, f"frame for unknown channel {channel_id}"
                )
            if channel.state is ChannelState.CLOSING:
                event = channel.on_closing_frame(frame_type, payload)
            elif frame_type == FRAME_METHOD:
                method = decode_method(payload)
                channel.content.check_method_allowed()
                event = channel.on_method(method)
            elif frame_type == FRAME_HEADER:
                event = channel.complete_content() if channel.content.on_header(payload) else None
            elif frame_type == FRAME_BODY:
                event = channel.complete_content() if channel.content.on_body(payload) else None
            else:
                raise ProtocolError(
                    ReplyCode.UNEXPECTED_FRAME, f"type {frame_type} frame on channel {channel_id}"
                )
            if event is not None:
                events.append(event)
        return events
