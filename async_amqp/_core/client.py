"""The client side of an AMQP 0-9-1 connection, without I/O.

:class:`ClientConnection` turns received bytes into :mod:`events` and
requests into bytes to send. It owns the handshake, tuning, channel numbers,
per-channel state, reply matching, content assembly, publisher-confirm
bookkeeping and the heartbeat clock. The anyio layer only moves bytes,
keeps waiters and runs user code.
"""

from __future__ import annotations

import enum
import platform
import struct
from collections.abc import Callable
from typing import Any

from pamqp import commands, encode
from pamqp.base import Frame

from .codes import ReplyCode
from .confirms import ConfirmTracker
from .content import ContentAssembler
from .errors import ProtocolError, ProtocolHeaderMismatch
from .events import (
    ChannelClosed,
    ChannelFlow,
    ConnectionBlocked,
    ConnectionClosed,
    ConnectionOpened,
    ConnectionUnblocked,
    ConsumerCancelled,
    Event,
    MessageDelivered,
    MessageReturned,
    PublishesSettled,
    ReplyArrived,
)
from .heartbeat import HeartbeatClock
from .output import FrameOutput
from .replies import REPLY_CLASSES, PendingReply, ReplyQueue, UnexpectedReplyError
from .wire import (
    FRAME_BODY,
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    FRAME_METHOD,
    FRAME_MIN_SIZE,
    PROTOCOL_HEADER,
    FrameReader,
    RawFrame,
    decode_method,
    encode_ack,
    encode_content,
    encode_method,
    encode_publish,
    make_method,
)

#: What RabbitMQ clients announce; the broker enables the matching extensions.
CLIENT_CAPABILITIES: dict[str, Any] = {
    "publisher_confirms": True,
    "exchange_exchange_bindings": True,
    "basic.nack": True,
    "consumer_cancel_notify": True,
    "connection.blocked": True,
    "authentication_failure_close": True,
    "per_consumer_qos": True,
}

_CONFIRM_SELECT = commands.Confirm.Select.index.to_bytes(4, "big")
_DELIVER_INDEX = commands.Basic.Deliver.index.to_bytes(4, "big")
_CONTENT_HEAD = struct.Struct(">HHQ")
DEFAULT_CHANNEL_MAX = 2047
DEFAULT_FRAME_MAX = 131072
SUPPORTED_MECHANISMS = ("PLAIN", "AMQPLAIN", "EXTERNAL")


class ConnectionState(enum.Enum):
    """Where the client is in the connection's life."""

    AWAIT_START = "await_start"
    AWAIT_TUNE = "await_tune"
    AWAIT_OPEN_OK = "await_open_ok"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class ChannelState(enum.Enum):
    """Where a channel is in its life (client view)."""

    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class ChannelUnavailable(Exception):
    """A request was made on a channel that is not open."""

    def __init__(self, channel_id: int, state: ChannelState | None) -> None:
        self.channel_id = channel_id
        self.state = state
        super().__init__(f"channel {channel_id} is {state.value if state else 'not open'}")


class NoFreeChannel(Exception):
    """Every channel number up to channel_max is in use."""


class ConnectionUnavailable(Exception):
    """A request was made while the connection is not open."""


def sasl_response(mechanism: str, login: str, password: str) -> bytes:
    """Encode the SASL response for *mechanism*.

    :raises ValueError: for a mechanism the client does not implement
    """
    if mechanism == "PLAIN":
        return b"\0" + login.encode() + b"\0" + password.encode()
    if mechanism == "AMQPLAIN":
        return encode.field_table({"LOGIN": login, "PASSWORD": password})[4:]
    if mechanism == "EXTERNAL":
        return b""
    raise ValueError(
        f"login_method {mechanism!r} is not supported; use one of {', '.join(SUPPORTED_MECHANISMS)}"
    )


def negotiate(requested: int | None, offered: int, unlimited: int) -> int:
    """Agree on a tuning value the way RabbitMQ clients do.

    ``None`` takes the server's offer; 0 from either side means "no limit"
    (replaced by *unlimited*, because RabbitMQ refuses 0 in tune-ok);
    otherwise the smaller value wins.
    """
    if not requested:
        return offered or unlimited
    if not offered:
        return requested
    return min(requested, offered)


def negotiate_heartbeat(requested: int | None, offered: int) -> int:
    """Agree on the heartbeat interval: ``None`` takes the offer, 0 disables."""
    if requested is None:
        return offered
    if requested == 0 or offered == 0:
        return requested
    return min(requested, offered)


class _Channel:
    """Client-side state of one channel."""

    __slots__ = ("channel_id", "confirms", "content", "get_slot", "replies", "state")

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id
        self.state = ChannelState.OPENING
        self.replies = ReplyQueue()
        self.content = ContentAssembler()
        self.confirms: ConfirmTracker | None = None
        #: the basic.get whose get-ok content is being assembled
        self.get_slot: PendingReply | None = None


class ClientConnection(FrameOutput):
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
        if login_method not in SUPPORTED_MECHANISMS:
            raise ValueError(
                f"login_method {login_method!r} is not supported; "
                f"use one of {', '.join(SUPPORTED_MECHANISMS)}"
            )
        if frame_max is not None and frame_max and frame_max < FRAME_MIN_SIZE:
            raise ValueError(f"frame_max must be at least {FRAME_MIN_SIZE}, not {frame_max}")
        if channel_max is not None and not 0 <= channel_max <= 65535:
            raise ValueError(f"channel_max must be between 0 and 65535, not {channel_max}")
        if heartbeat is not None and not 0 <= heartbeat <= 65535:
            raise ValueError(f"heartbeat must be between 0 and 65535 seconds, not {heartbeat}")
        super().__init__()
        self.state = ConnectionState.AWAIT_START
        self._login = login
        self._password = password
        self.virtualhost = virtualhost
        self.login_method = login_method
        self._requested = (channel_max, frame_max, heartbeat)
        self._insist = insist
        properties: dict[str, Any] = {
            "product": "async_amqp",
            "version": product_version,
            "platform": f"Python {platform.python_version()}",
            "information": "https://pypi.org/project/async_amqp/",
        }
        user_properties = dict(client_properties or {})
        capabilities = dict(CLIENT_CAPABILITIES)
        capabilities.update(user_properties.pop("capabilities", None) or {})
        properties.update(user_properties)
        properties["capabilities"] = capabilities
        self.client_properties = properties
        self.server_properties: dict[str, Any] = {}
        self.channel_max = 0
        self.frame_max = FRAME_MIN_SIZE
        self.heartbeat_interval = 0
        self._reader = FrameReader()
        self._channels: dict[int, _Channel] = {}
        self._close_slot: PendingReply | None = None
        self._method_handlers: dict[type[Frame], Callable[[_Channel, Any], Event | None]] = {
            commands.Basic.Deliver: self._on_content_method,
            commands.Basic.Return: self._on_content_method,
            commands.Basic.Ack: self._on_confirm,
            commands.Basic.Nack: self._on_confirm,
            commands.Basic.Cancel: self._on_server_cancel,
            commands.Channel.Flow: self._on_server_flow,
            commands.Channel.Close: self._on_server_channel_close,
        }

    # -- output ---------------------------------------------------------------

    def initiate(self) -> None:
        """Queue the protocol header that opens the conversation."""
        self._outgoing.append(PROTOCOL_HEADER)

    # -- requests -------------------------------------------------------------

    def _require_open(self) -> None:
        if self.state is not ConnectionState.OPEN:
            raise ConnectionUnavailable(f"connection is {self.state.value}")

    def _open_channel_state(self, channel_id: int) -> _Channel:
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
        channel = channels[channel_id] = _Channel(channel_id)
        slot = channel.replies.expect(
            commands.Channel.Open, waiter, encode_method(channel_id, commands.Channel.Open())
        )
        self._send_next_request(channel)
        return channel_id, slot

    def call(self, channel_id: int, method: Frame, waiter: Any = None) -> PendingReply:
        """Queue a synchronous request on an open channel; return its reply slot.

        The request goes out when every earlier request of the channel has been
        answered; channel.close goes out at once.

        :raises ChannelUnavailable: when the channel is not open
        """
        self._require_open()
        channel = self._open_channel_state(channel_id)
        method_class = type(method)
        frame = encode_method(channel_id, method)
        if method_class is commands.Channel.Close:
            channel.state = ChannelState.CLOSING
            self._outgoing.append(frame)
            return channel.replies.expect_sent(method_class, waiter)
        slot = channel.replies.expect(method_class, waiter, frame)
        self._send_next_request(channel)
        return slot

    def abandon(self, channel_id: int, slot: PendingReply) -> None:
        """The caller of *slot* stopped waiting (see :meth:`ReplyQueue.abandon`)."""
        channel = self._channels.get(channel_id)
        if channel is None:
            return
        channel.replies.abandon(slot)
        if channel.state is ChannelState.OPEN:
            self._send_next_request(channel)

    def _send_next_request(self, channel: _Channel) -> None:
        frame = channel.replies.take_sendable()
        if frame is None:
            return
        self._outgoing.append(frame)
        if frame[7:11] == _CONFIRM_SELECT and channel.confirms is None:
            channel.confirms = ConfirmTracker()  # the broker numbers publishes from here on

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

    def ack(self, channel_id: int, delivery_tag: int, multiple: bool) -> None:
        """Send basic.ack (hot path of :meth:`send`).

        :raises ChannelUnavailable: when the channel is not open
        """
        if self.state is not ConnectionState.OPEN:
            raise ConnectionUnavailable(f"connection is {self.state.value}")
        channel = self._channels.get(channel_id)
        if channel is None or channel.state is not ChannelState.OPEN:
            raise ChannelUnavailable(channel_id, channel.state if channel else None)
        self._outgoing.append(encode_ack(channel_id, delivery_tag, multiple))

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
        method_frame = encode_publish(
            channel_id, exchange.encode(), routing_key.encode(), mandatory, immediate
        )
        outgoing = self._outgoing
        outgoing.append(method_frame)
        outgoing.extend(encode_content(channel_id, properties_payload, body, self.frame_max))
        self._pending_size += len(body) + 64
        confirms = channel.confirms
        if confirms is None:
            return None
        return confirms.published(
            token, mandatory=mandatory, exchange=exchange, routing_key=routing_key, body=body
        )

    def close(
        self, reply_code: int = 200, reply_text: str = "Normal shutdown", waiter: Any = None
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
        self._outgoing = []

    def drain_channels(self) -> list[ChannelClosed]:
        """End every channel (connection gone); return what each left pending."""
        closed = [
            ChannelClosed(
                channel.channel_id,
                0,
                "",
                0,
                0,
                by_server=True,
                pending=channel.replies.drain(),
                unconfirmed=channel.confirms.drain() if channel.confirms else [],
            )
            for channel in self._channels.values()
        ]
        self._channels.clear()
        return closed

    # -- input ----------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> list[Event]:
        """Consume received bytes; return the events they complete.

        :raises ProtocolError: when the broker broke the protocol (call :meth:`fail`)
        :raises ProtocolHeaderMismatch: when the broker refused our protocol version
        """
        self.heartbeat.received(now)
        reader = self._reader
        if self.state is ConnectionState.AWAIT_START and reader.buffered + len(data) >= 8:
            probe = data if not reader.buffered else b""
            if probe[:4] == b"AMQP":
                raise ProtocolHeaderMismatch(probe[:8])
        events: list[Event] = []
        frames = reader.feed(data)
        index = 0
        count = len(frames)
        while index < count:
            frame_type, channel_id, payload = frames[index]
            index += 1
            if (
                frame_type == FRAME_METHOD
                and index + 1 < count
                and payload.startswith(_DELIVER_INDEX)
                and (delivered := self._whole_delivery(frames, index - 1)) is not None
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
                event = self._on_closing_channel_frame(channel, frame_type, payload)
            elif frame_type == FRAME_METHOD:
                method = decode_method(payload)
                channel.content.check_method_allowed()
                event = self._on_channel_method(channel, method)
            elif frame_type == FRAME_HEADER:
                event = (
                    self._complete_content(channel) if channel.content.on_header(payload) else None
                )
            elif frame_type == FRAME_BODY:
                event = (
                    self._complete_content(channel) if channel.content.on_body(payload) else None
                )
            else:
                raise ProtocolError(
                    ReplyCode.UNEXPECTED_FRAME, f"type {frame_type} frame on channel {channel_id}"
                )
            if event is not None:
                events.append(event)
        return events

    def _whole_delivery(self, frames: list[RawFrame], index: int) -> MessageDelivered | None:
        """Hot path: a deliver, its header and its only body frame, all already received."""
        _, channel_id, payload = frames[index]
        header_type, header_channel, header = frames[index + 1]
        body_type, body_channel, body = frames[index + 2]
        if (
            header_type != FRAME_HEADER
            or body_type != FRAME_BODY
            or header_channel != channel_id
            or body_channel != channel_id
            or len(header) < 14
        ):
            return None
        channel = self._channels.get(channel_id)
        if (
            channel is None
            or channel.state is not ChannelState.OPEN
            or channel.content.expecting_content
        ):
            return None
        class_id, _weight, body_size = _CONTENT_HEAD.unpack_from(header)
        if class_id != 60 or body_size != len(body):
            return None
        method = decode_method(payload)
        assert isinstance(method, commands.Basic.Deliver)
        return MessageDelivered(channel_id, method, header[12:], body)

    # connection-level methods

    def _on_connection_method(self, method: Frame) -> Event | None:
        if isinstance(method, commands.Connection.Close):
            return self._on_server_connection_close(method)
        state = self.state
        if state is ConnectionState.CLOSING:
            if isinstance(method, commands.Connection.CloseOk):
                self.state = ConnectionState.CLOSED
                return ConnectionClosed(200, "closed by client", 0, 0, by_server=False)
            return None
        if state is ConnectionState.AWAIT_START and isinstance(method, commands.Connection.Start):
            self._on_start(method)
            return None
        if state is ConnectionState.AWAIT_TUNE and isinstance(method, commands.Connection.Tune):
            self._on_tune(method)
            return None
        if state is ConnectionState.AWAIT_OPEN_OK and isinstance(
            method, commands.Connection.OpenOk
        ):
            self.state = ConnectionState.OPEN
            return ConnectionOpened(
                self.server_properties, self.channel_max, self.frame_max, self.heartbeat_interval
            )
        if state is ConnectionState.OPEN:
            if isinstance(method, commands.Connection.Blocked):
                return ConnectionBlocked(method.reason or "")
            if isinstance(method, commands.Connection.Unblocked):
                return ConnectionUnblocked()
        if isinstance(method, commands.Connection.Secure):
            raise ProtocolError(
                ReplyCode.NOT_IMPLEMENTED,
                f"SASL challenge for mechanism {self.login_method} is not supported",
                class_id=10,
                method_id=20,
            )
        raise ProtocolError(
            ReplyCode.COMMAND_INVALID,
            f"unexpected {method.name} in connection state {state.value}",
            class_id=method.index >> 16,
            method_id=method.index & 0xFFFF,
        )

    def _on_start(self, method: commands.Connection.Start) -> None:
        self.server_properties = dict(method.server_properties or {})
        mechanisms = method.mechanisms
        if isinstance(mechanisms, bytes):
            mechanisms = mechanisms.decode("latin-1")
        offered = str(mechanisms).split()
        if self.login_method not in offered:
            raise ProtocolError(
                ReplyCode.ACCESS_REFUSED,
                f"the broker does not offer login_method {self.login_method} "
                f"(it offers {' '.join(offered)})",
                send_close=False,
            )
        response = sasl_response(self.login_method, self._login, self._password)
        start_ok = commands.Connection.StartOk(
            client_properties=self.client_properties,
            mechanism=self.login_method,
            locale="en_US",
        )
        start_ok.response = response  # type: ignore[assignment]
        self._outgoing.append(encode_method(0, start_ok))
        self.state = ConnectionState.AWAIT_TUNE

    def _on_tune(self, method: commands.Connection.Tune) -> None:
        channel_max, frame_max, heartbeat = self._requested
        self.channel_max = negotiate(channel_max, method.channel_max, 65535)
        self.frame_max = negotiate(frame_max, method.frame_max, DEFAULT_FRAME_MAX)
        self.heartbeat_interval = negotiate_heartbeat(heartbeat, method.heartbeat)
        self._reader.max_frame_size = self.frame_max
        self.heartbeat = HeartbeatClock(self.heartbeat_interval, self.heartbeat.last_received)
        self._outgoing.append(
            encode_method(
                0,
                commands.Connection.TuneOk(
                    channel_max=self.channel_max,
                    frame_max=self.frame_max,
                    heartbeat=self.heartbeat_interval,
                ),
            )
        )
        open_method = make_method(
            commands.Connection.Open, virtual_host=self.virtualhost, insist=self._insist
        )
        self._outgoing.append(encode_method(0, open_method))
        self.state = ConnectionState.AWAIT_OPEN_OK

    def _on_server_connection_close(self, method: commands.Connection.Close) -> Event:
        self._outgoing.append(encode_method(0, commands.Connection.CloseOk()))
        self.state = ConnectionState.CLOSED
        return ConnectionClosed(
            method.reply_code or 0,
            method.reply_text or "",
            method.class_id or 0,
            method.method_id or 0,
            by_server=True,
        )

    # channel-level methods

    def _on_closing_channel_frame(
        self, channel: _Channel, frame_type: int, payload: bytes
    ) -> Event | None:
        """After our channel.close only close/close-ok matter; the broker requeues the rest."""
        if frame_type != FRAME_METHOD:
            return None
        method = decode_method(payload)
        if type(method) in (commands.Channel.Close, commands.Channel.CloseOk):
            return self._on_channel_method(channel, method)
        return None

    def _on_channel_method(self, channel: _Channel, method: Frame) -> Event | None:
        method_class = type(method)
        handler = self._method_handlers.get(method_class)
        if handler is not None:
            return handler(channel, method)
        if method_class in REPLY_CLASSES:
            return self._on_reply(channel, method)
        raise ProtocolError(
            ReplyCode.COMMAND_INVALID,
            f"unexpected {method.name} on channel {channel.channel_id}",
            class_id=method.index >> 16,
            method_id=method.index & 0xFFFF,
        )

    def _on_reply(self, channel: _Channel, method: Frame) -> Event | None:
        method_class = type(method)
        if method_class is commands.Channel.CloseOk:
            return self._end_channel(channel, 200, "closed by client", 0, 0, by_server=False)
        try:
            slot = channel.replies.match(method)
        except UnexpectedReplyError as error:
            raise ProtocolError(
                ReplyCode.COMMAND_INVALID,
                str(error),
                class_id=method.index >> 16,
                method_id=method.index & 0xFFFF,
            ) from None
        self._send_next_request(channel)
        if method_class is commands.Channel.OpenOk:
            channel.state = ChannelState.OPEN
        elif method_class is commands.Basic.GetOk:
            channel.content.start(method)
            channel.get_slot = slot
            return None
        return ReplyArrived(channel.channel_id, slot, method)

    def _on_content_method(self, channel: _Channel, method: Frame) -> None:
        channel.content.start(method)
        return None

    def _complete_content(self, channel: _Channel) -> Event:
        method, properties_payload, body = channel.content.finish()
        if isinstance(method, commands.Basic.Deliver):
            return MessageDelivered(channel.channel_id, method, properties_payload, body)
        if isinstance(method, commands.Basic.Return):
            token = None
            if channel.confirms is not None:
                token = channel.confirms.match_return(
                    method.exchange or "", method.routing_key or "", body
                )
            return MessageReturned(channel.channel_id, method, properties_payload, body, token)
        slot = channel.get_slot
        assert slot is not None
        channel.get_slot = None
        return ReplyArrived(channel.channel_id, slot, method, properties_payload, body)

    def _on_confirm(self, channel: _Channel, method: commands.Basic.Ack) -> Event | None:
        if channel.confirms is None:
            raise ProtocolError(
                ReplyCode.COMMAND_INVALID,
                f"{method.name} on channel {channel.channel_id}, which is not in confirm mode",
            )
        settled = channel.confirms.settle(method.delivery_tag, method.multiple)
        if not settled:
            return None
        return PublishesSettled(channel.channel_id, type(method) is commands.Basic.Ack, settled)

    def _on_server_cancel(self, channel: _Channel, method: commands.Basic.Cancel) -> Event:
        if not method.nowait:
            self._outgoing.append(
                encode_method(channel.channel_id, commands.Basic.CancelOk(method.consumer_tag))
            )
        return ConsumerCancelled(channel.channel_id, method.consumer_tag or "")

    def _on_server_flow(self, channel: _Channel, method: commands.Channel.Flow) -> Event:
        self._outgoing.append(
            encode_method(channel.channel_id, commands.Channel.FlowOk(method.active))
        )
        return ChannelFlow(channel.channel_id, bool(method.active))

    def _on_server_channel_close(self, channel: _Channel, method: commands.Channel.Close) -> Event:
        self._outgoing.append(encode_method(channel.channel_id, commands.Channel.CloseOk()))
        return self._end_channel(
            channel,
            method.reply_code or 0,
            method.reply_text or "",
            method.class_id or 0,
            method.method_id or 0,
            by_server=True,
        )

    def _end_channel(
        self,
        channel: _Channel,
        reply_code: int,
        reply_text: str,
        class_id: int,
        method_id: int,
        *,
        by_server: bool,
    ) -> ChannelClosed:
        channel.state = ChannelState.CLOSED
        del self._channels[channel.channel_id]
        pending = channel.replies.drain()
        if channel.get_slot is not None:
            pending.append(channel.get_slot)
        return ChannelClosed(
            channel.channel_id,
            reply_code,
            reply_text,
            class_id,
            method_id,
            by_server=by_server,
            pending=pending,
            unconfirmed=channel.confirms.drain() if channel.confirms else [],
        )
