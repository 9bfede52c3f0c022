"""The broker side of an AMQP 0-9-1 connection, without I/O.

:class:`ServerConnection` enforces what RabbitMQ enforces at the connection
and channel level (protocol header, handshake order, tune limits, channel
lifecycle, content framing) with RabbitMQ's reply codes and texts, and
reports everything else as events for the broker to act on. Decisions that
need broker state (is this login valid, does this vhost exist) are asked of
the broker through events and answered with :meth:`accept_login`,
:meth:`refuse_login`, :meth:`accept_open`. Each open channel's checks are a
:class:`~.server_channel.ServerChannel`; the events live in :mod:`.server_events`
and are importable from here too.
"""

from __future__ import annotations

import enum
from typing import Any

from pamqp import commands
from pamqp.base import Frame

from .codes import ReplyCode
from .content import ContentAssembler
from .erlang import frame_error_text, unexpected_frame_text
from .errors import FrameError, ProtocolError
from .heartbeat import HeartbeatClock
from .output import FrameOutput
from .server_channel import CONTENT_METHODS, ServerChannel
from .server_events import (
    ChannelCloseConfirmed,
    ChannelClosedByClient,
    ChannelOpened,
    ConnectionCloseConfirmed,
    ConnectionClosedByClient,
    ContentReceived,
    LoginRequested,
    MethodReceived,
    OpenRequested,
    ProtocolHeaderRefused,
    ServerEvent,
    TuneAccepted,
)
from .server_frames import encode_deliver, encode_publisher_ack
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
    make_method,
)

#: Headers RabbitMQ accepts: 0-9-1, and 0-9 as sent by old clients (class 1, instance 1).
ACCEPTED_HEADERS = frozenset({PROTOCOL_HEADER, b"AMQP\x01\x01\x00\x09"})

__all__ = [
    "ACCEPTED_HEADERS",
    "ChannelCloseConfirmed",
    "ChannelClosedByClient",
    "ChannelOpened",
    "ConnectionCloseConfirmed",
    "ConnectionClosedByClient",
    "ContentReceived",
    "LoginRequested",
    "MethodReceived",
    "OpenRequested",
    "ProtocolHeaderRefused",
    "ServerConnection",
    "ServerEvent",
    "ServerState",
    "TuneAccepted",
]


class ServerState(enum.Enum):
    """Where the broker is in a connection's life."""

    AWAIT_HEADER = "await_header"
    AWAIT_START_OK = "await_start_ok"
    AWAIT_LOGIN_DECISION = "await_login_decision"
    AWAIT_TUNE_OK = "await_tune_ok"
    AWAIT_OPEN = "await_open"
    AWAIT_OPEN_DECISION = "await_open_decision"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class ServerConnection(FrameOutput):
    """Sans-IO broker connection.

    :param server_properties: sent in connection.start
    :param mechanisms: SASL mechanisms offered, space separated
    :param channel_max: offered channel_max
    :param frame_max: offered frame_max
    :param heartbeat: offered heartbeat interval in seconds
    """

    def __init__(
        self,
        *,
        server_properties: dict[str, Any],
        mechanisms: str = "AMQPLAIN PLAIN",
        locales: str = "en_US",
        channel_max: int = 2047,
        frame_max: int = 131072,
        heartbeat: int = 60,
    ) -> None:
        super().__init__()
        self.state = ServerState.AWAIT_HEADER
        self.server_properties = server_properties
        self.mechanisms = mechanisms
        self.locales = locales
        self.offered = (channel_max, frame_max, heartbeat)
        self.channel_max = channel_max
        self.frame_max = frame_max
        self.heartbeat_interval = 0
        self.client_properties: dict[str, Any] = {}
        self._reader = FrameReader()
        self._channels: dict[int, ServerChannel] = {}
        # Content being assembled on channel numbers that are not open: RabbitMQ reads a
        # whole command (method, header, body) before it checks that the channel is open.
        self._unopened: dict[int, ContentAssembler] = {}

    # -- output -------------------------------------------------------------------

    def send_method(self, channel_id: int, method: Frame) -> None:
        """Queue a method frame (a reply, or an asynchronous method like basic.ack)."""
        self._outgoing.append(encode_method(channel_id, method))

    def send_content(
        self, channel_id: int, method: Frame, properties_payload: bytes, body: bytes
    ) -> None:
        """Queue a content method (deliver, get-ok, return) with header and body frames."""
        self._outgoing.append(encode_method(channel_id, method))
        self._outgoing.extend(encode_content(channel_id, properties_payload, body, self.frame_max))

    def send_deliver(
        self,
        channel_id: int,
        consumer_tag: str,
        delivery_tag: int,
        redelivered: bool,
        exchange: str,
        routing_key: str,
        properties_payload: bytes,
        body: bytes,
    ) -> None:
        """Queue a basic.deliver with its header and body frames (the delivery hot path)."""
        outgoing = self._outgoing
        outgoing.append(
            encode_deliver(
                channel_id,
                consumer_tag.encode(),
                delivery_tag,
                redelivered,
                exchange.encode(),
                routing_key.encode(),
            )
        )
        outgoing.extend(encode_content(channel_id, properties_payload, body, self.frame_max))

    def send_publisher_ack(self, channel_id: int, delivery_tag: int, multiple: bool) -> None:
        """Queue a basic.ack confirming publishes (the confirm hot path)."""
        self._outgoing.append(encode_publisher_ack(channel_id, delivery_tag, multiple))

    def send_raw(self, data: bytes) -> None:
        """Queue bytes as they are (fault injection)."""
        self._outgoing.append(data)

    # -- decisions the broker makes -------------------------------------------------------

    def accept_login(self) -> None:
        """The credentials are good: send connection.tune."""
        channel_max, frame_max, heartbeat = self.offered
        self._outgoing.append(
            encode_method(
                0,
                commands.Connection.Tune(
                    channel_max=channel_max, frame_max=frame_max, heartbeat=heartbeat
                ),
            )
        )
        self.state = ServerState.AWAIT_TUNE_OK

    def refuse_login(self, mechanism: str, *, send_close: bool) -> None:
        """The credentials are bad: close as RabbitMQ does (403, or silently)."""
        if send_close:
            self.close_connection(
                ReplyCode.ACCESS_REFUSED,
                f"ACCESS_REFUSED - Login was refused using authentication mechanism "
                f"{mechanism}. For details see the broker logfile.",
            )
        else:
            self.state = ServerState.CLOSED

    def accept_open(self) -> None:
        """The vhost exists and the user may use it: send open-ok."""
        self._outgoing.append(encode_method(0, commands.Connection.OpenOk()))
        self.state = ServerState.OPEN

    def close_connection(
        self, reply_code: int, reply_text: str, class_id: int = 0, method_id: int = 0
    ) -> None:
        """Start a broker-side connection close (an error, or an operator's close)."""
        if self.state in (ServerState.CLOSING, ServerState.CLOSED):
            return
        self._outgoing.append(
            encode_method(
                0, commands.Connection.Close(reply_code, reply_text[:255], class_id, method_id)
            )
        )
        self.state = ServerState.CLOSING

    def fail(self, error: ProtocolError) -> None:
        """Answer a protocol violation: connection.close, or just a dropped socket."""
        if error.send_close:
            self.close_connection(
                error.reply_code, error.reply_text, error.class_id, error.method_id
            )
        else:
            self.state = ServerState.CLOSED

    def close_channel(
        self,
        channel_id: int,
        reply_code: int,
        reply_text: str,
        class_id: int = 0,
        method_id: int = 0,
    ) -> None:
        """Close a channel with an error; its frames are discarded until close-ok."""
        channel = self._channels.get(channel_id)
        if channel is None or channel.closing:
            return
        channel.close(reply_code, reply_text, class_id, method_id)

    @property
    def closed(self) -> bool:
        """True once the connection is over (the socket should be closed)."""
        return self.state is ServerState.CLOSED

    def channel_is_open(self, channel_id: int) -> bool:
        """True when *channel_id* is open and not being closed by the broker."""
        channel = self._channels.get(channel_id)
        return channel is not None and not channel.closing

    @property
    def open_channel_ids(self) -> list[int]:
        """Channel numbers currently in use."""
        return list(self._channels)

    # -- input --------------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> list[ServerEvent]:
        """Consume received bytes; return the events they complete.

        :raises ProtocolError: when the client broke the protocol (then call :meth:`fail`)
        """
        self.heartbeat.received(now)
        events: list[ServerEvent] = []
        if self.state is ServerState.AWAIT_HEADER:
            header = self._reader.read_protocol_header(data)
            if header is None:
                return events
            data = b""
            if header not in ACCEPTED_HEADERS:
                self._outgoing.append(PROTOCOL_HEADER)
                self.state = ServerState.CLOSED
                events.append(ProtocolHeaderRefused(header))
                return events
            self._outgoing.append(
                encode_method(
                    0,
                    commands.Connection.Start(
                        version_major=0,
                        version_minor=9,
                        server_properties=self.server_properties,
                        mechanisms=self.mechanisms,
                        locales=self.locales,
                    ),
                )
            )
            self.state = ServerState.AWAIT_START_OK
        if self.state is ServerState.CLOSED:
            return events
        try:
            frames = self._reader.feed(data)
        except FrameError:
            # Like RabbitMQ, keep reading after the close it causes: close-ok must be seen.
            self._reader.discard()
            raise
        for frame_type, channel_id, payload in frames:
            event = self._on_frame(frame_type, channel_id, payload)
            if event is not None:
                events.append(event)
            if self.closed:  # a handler may have ended the connection
                break
        return events

    def _on_frame(self, frame_type: int, channel_id: int, payload: bytes) -> ServerEvent | None:
        if frame_type == FRAME_HEADER and len(payload) < 12:
            # Too short to be a content header: RabbitMQ's frame parser rejects it at once.
            raise FrameError(frame_error_text(frame_type, payload, "unknown_frame"))
        state = self.state
        if frame_type == FRAME_HEARTBEAT:
            if payload:
                # RabbitMQ's frame parser only knows empty heartbeats.
                raise FrameError(frame_error_text(frame_type, payload, "unknown_frame"))
            if channel_id != 0:
                raise ProtocolError(ReplyCode.UNEXPECTED_FRAME, "type 8, all octets = <<>>")
            return None
        if state is ServerState.CLOSING:
            if frame_type == FRAME_METHOD and channel_id == 0:
                method = decode_method(payload, strict=True)
                if type(method) is commands.Connection.CloseOk:
                    self.state = ServerState.CLOSED
                    return ConnectionCloseConfirmed()
                if type(method) is commands.Connection.Close:
                    self._outgoing.append(encode_method(0, commands.Connection.CloseOk()))
            return None
        if state is not ServerState.OPEN:
            return self._on_handshake_frame(frame_type, channel_id, payload)
        if channel_id == 0:
            if frame_type != FRAME_METHOD:
                raise ProtocolError(
                    ReplyCode.UNEXPECTED_FRAME,
                    "expected method frame, got non method frame instead",
                )
            return self._on_connection_method(decode_method(payload, strict=True))
        channel = self._channels.get(channel_id)
        if frame_type == FRAME_METHOD:
            method = decode_method(payload, strict=True)
            if channel is None:
                return self._on_unopened_channel_method(channel_id, method)
            if channel.closing:
                return channel.on_closing_method(method)
            channel.content.check_method_allowed()
            return channel.on_method(method, payload)
        if channel is None:
            return self._on_unopened_channel_content(channel_id, frame_type, payload)
        if channel.closing:
            return None
        if frame_type == FRAME_HEADER:
            if channel.content.on_header(payload):
                return channel.complete_content()
            return None
        if frame_type == FRAME_BODY:
            if channel.content.on_body(payload):
                return channel.complete_content()
            return None
        raise ProtocolError(ReplyCode.UNEXPECTED_FRAME, f"type {frame_type}")

    def _on_handshake_frame(
        self, frame_type: int, channel_id: int, payload: bytes
    ) -> ServerEvent | None:
        if self.state is ServerState.AWAIT_OPEN:
            return self._on_opening_frame(frame_type, channel_id, payload)
        # Before tune-ok RabbitMQ answers nothing it does not expect (connection.close
        # included): it closes the socket after a delay (send_close=False).
        if frame_type != FRAME_METHOD or channel_id != 0:
            raise ProtocolError(
                ReplyCode.UNEXPECTED_FRAME,
                "frame before the handshake finished",
                send_close=False,
            )
        method = decode_method(payload, strict=True)
        state = self.state
        if state is ServerState.AWAIT_START_OK and isinstance(method, commands.Connection.StartOk):
            self.client_properties = dict(method.client_properties or {})
            self.state = ServerState.AWAIT_LOGIN_DECISION
            response: str | bytes = method.response or b""
            return LoginRequested(
                method.mechanism or "",
                response.encode() if isinstance(response, str) else bytes(response),
                self.client_properties,
                method.locale or "",
            )
        if state is ServerState.AWAIT_TUNE_OK and isinstance(method, commands.Connection.TuneOk):
            return self._on_tune_ok(method)
        raise ProtocolError(
            ReplyCode.COMMAND_INVALID,
            f"unexpected {method.name} during the handshake",
            send_close=False,
            class_id=method.index >> 16,
            method_id=method.index & 0xFFFF,
        )

    def _on_opening_frame(
        self, frame_type: int, channel_id: int, payload: bytes
    ) -> ServerEvent | None:
        # After tune-ok (RabbitMQ's "opening" state) errors are answered with
        # connection.close, worded like RabbitMQ's.
        if frame_type != FRAME_METHOD or channel_id != 0:
            raise ProtocolError(
                ReplyCode.UNEXPECTED_FRAME, unexpected_frame_text(frame_type, payload)
            )
        method = decode_method(payload, strict=True)
        if isinstance(method, commands.Connection.Open):
            self.state = ServerState.AWAIT_OPEN_DECISION
            return OpenRequested(method.virtual_host or "")
        raise ProtocolError(
            ReplyCode.CHANNEL_ERROR,
            "unexpected method in connection state opening",
            class_id=method.index >> 16,
            method_id=method.index & 0xFFFF,
        )

    def _on_tune_ok(self, method: commands.Connection.TuneOk) -> ServerEvent:
        offered_channel_max, offered_frame_max, _ = self.offered
        valid = (
            1 <= method.channel_max <= (offered_channel_max or 65535)
            and method.frame_max >= FRAME_MIN_SIZE
            and (not offered_frame_max or method.frame_max <= offered_frame_max)
        )
        if not valid:
            raise ProtocolError(
                ReplyCode.NOT_ALLOWED,
                f"tune-ok channel_max={method.channel_max} frame_max={method.frame_max} "
                "outside the offered limits",
                send_close=False,
            )
        self.channel_max = method.channel_max
        self.frame_max = method.frame_max
        self.heartbeat_interval = method.heartbeat
        self._reader.max_frame_size = method.frame_max
        self.heartbeat = HeartbeatClock(method.heartbeat, self.heartbeat.last_received)
        self.state = ServerState.AWAIT_OPEN
        return TuneAccepted(method.channel_max, method.frame_max, method.heartbeat)

    def _on_connection_method(self, method: Frame) -> ServerEvent | None:
        method_class = type(method)
        if isinstance(method, commands.Connection.Close):
            self._outgoing.append(encode_method(0, commands.Connection.CloseOk()))
            self.state = ServerState.CLOSED
            self._channels.clear()
            return ConnectionClosedByClient(method.reply_code or 0, method.reply_text or "")
        if method_class is commands.Connection.UpdateSecret:
            self._outgoing.append(encode_method(0, commands.Connection.UpdateSecretOk()))
            return None
        raise ProtocolError(
            ReplyCode.CHANNEL_ERROR,
            "unexpected method in connection state running",
            class_id=method.index >> 16,
            method_id=method.index & 0xFFFF,
        )

    def _on_unopened_channel_method(self, channel_id: int, method: Frame) -> ServerEvent | None:
        assembler = self._unopened.get(channel_id)
        if assembler is not None:
            assembler.check_method_allowed()
        if type(method) in CONTENT_METHODS:
            self._unopened.setdefault(channel_id, ContentAssembler()).start(method)
            return None
        self._unopened.pop(channel_id, None)
        return self._on_closed_channel_method(channel_id, method)

    def _on_unopened_channel_content(
        self, channel_id: int, frame_type: int, payload: bytes
    ) -> ServerEvent | None:
        assembler = self._unopened.setdefault(channel_id, ContentAssembler())
        if frame_type == FRAME_HEADER:
            complete = assembler.on_header(payload)
        elif frame_type == FRAME_BODY:
            complete = assembler.on_body(payload)
        else:
            raise ProtocolError(ReplyCode.UNEXPECTED_FRAME, f"type {frame_type}")
        if not complete:
            return None
        method, _, _ = assembler.finish()
        del self._unopened[channel_id]
        raise ProtocolError(
            ReplyCode.CHANNEL_ERROR,
            "expected 'channel.open'",
            class_id=method.index >> 16,
            method_id=method.index & 0xFFFF,
        )

    def _on_closed_channel_method(self, channel_id: int, method: Frame) -> ServerEvent:
        if type(method) is not commands.Channel.Open:
            raise ProtocolError(
                ReplyCode.CHANNEL_ERROR,
                "expected 'channel.open'",
                class_id=method.index >> 16,
                method_id=method.index & 0xFFFF,
            )
        if len(self._channels) >= self.channel_max:
            raise ProtocolError(
                ReplyCode.NOT_ALLOWED,
                f"number of channels opened ({len(self._channels)}) has reached the "
                f"negotiated channel_max ({self.channel_max})",
            )
        self._channels[channel_id] = ServerChannel(channel_id, self._outgoing, self._channels)
        # RabbitMQ's open-ok carries an empty channel_id (pamqp's default is "0").
        open_ok = make_method(commands.Channel.OpenOk, channel_id="")
        self._outgoing.append(encode_method(channel_id, open_ok))
        return ChannelOpened(channel_id)
