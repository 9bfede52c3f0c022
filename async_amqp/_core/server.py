"""The broker side of an AMQP 0-9-1 connection, without I/O.

:class:`ServerConnection` enforces what RabbitMQ enforces at the connection
and channel level (protocol header, handshake order, tune limits, channel
lifecycle, content framing) with RabbitMQ's reply codes and texts, and
reports everything else as events for the broker to act on. Decisions that
need broker state (is this login valid, does this vhost exist) are asked of
the broker through events and answered with :meth:`accept_login`,
:meth:`refuse_login`, :meth:`accept_open`. Each open channel's checks are a
:class:`~.server_channel.ServerChannel`; the events live in :mod:`.server_events`
and are importable from here too. Bytes go in with ``receive_data`` and events
come out of ``next_event`` (:mod:`.server_input`, h11-style).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, ClassVar, Final

from pamqp import commands
from pamqp.base import Frame

from .codes import ReplyCode, class_id_of, method_id_of
from .content import ContentAssembler
from .erlang import binary_w, frame_error_text
from .errors import FrameError, ProtocolError
from .incremental import NEED_DATA, PAUSED
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
    PublishReceived,
    ServerEvent,
    TuneAccepted,
)
from .server_handshake import ACCEPTED_HEADERS, ServerHandshake, ServerState
from .server_input import ServerInput
from .server_publish import ACCESS_REQUEST as _ACCESS_REQUEST
from .wire import (
    FRAME_BODY,
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    FRAME_METHOD,
    FrameReader,
    decode_method,
    encode_method,
    make_method,
)

#: access.request's class and method id (30/10), and its reply's payload (ticket 1).
ACCESS_REQUEST: Final = _ACCESS_REQUEST
ACCESS_REQUEST_OK: Final = struct.pack(">HHH", 30, 11, 1)

__all__ = [
    "ACCEPTED_HEADERS",
    "ACCESS_REQUEST",
    "ACCESS_REQUEST_OK",
    "NEED_DATA",
    "PAUSED",
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
    "PublishReceived",
    "ServerConnection",
    "ServerEvent",
    "ServerState",
    "TuneAccepted",
]


class ServerConnection(ServerInput, ServerHandshake):
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
        self._init_input()

    # -- output -------------------------------------------------------------------

    # -- decisions the broker makes -------------------------------------------------------

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
            refused = self._on_protocol_header(data)
            if refused is not None:
                events.append(refused)
            if self.state is ServerState.AWAIT_HEADER or refused is not None:
                return events
            data = b""
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
        if frame_type == FRAME_HEARTBEAT:
            if payload:
                # RabbitMQ's frame parser only knows empty heartbeats.
                raise FrameError(frame_error_text(frame_type, payload, "unknown_frame"))
            if channel_id != 0:
                raise ProtocolError(ReplyCode.UNEXPECTED_FRAME, "type 8, all octets = <<>>")
            return None
        handler = self._FRAME_HANDLERS.get(self.state)
        if handler is None:
            return self._on_handshake_frame(frame_type, channel_id, payload)
        return handler(self, frame_type, channel_id, payload)

    def _on_closing_frame(
        self, frame_type: int, channel_id: int, payload: bytes
    ) -> ServerEvent | None:
        """While closing, only connection.close(-ok) matters; everything else is dropped."""
        if frame_type == FRAME_METHOD and channel_id == 0:
            method = decode_method(payload, strict=True)
            if type(method) is commands.Connection.CloseOk:
                self.state = ServerState.CLOSED
                return ConnectionCloseConfirmed()
            if type(method) is commands.Connection.Close:
                self._outgoing.append(encode_method(0, commands.Connection.CloseOk()))
        return None

    def _on_open_frame(
        self, frame_type: int, channel_id: int, payload: bytes
    ) -> ServerEvent | None:
        """A frame on an open connection: channel 0's methods, or a channel's frames."""
        if channel_id == 0:
            if frame_type != FRAME_METHOD:
                raise ProtocolError(
                    ReplyCode.UNEXPECTED_FRAME,
                    "expected method frame, got non method frame instead",
                )
            if payload[:4] == ACCESS_REQUEST:
                raise ProtocolError(
                    ReplyCode.CHANNEL_ERROR,
                    "unexpected method in connection state running",
                    class_id=30,
                    method_id=10,
                )
            return self._on_connection_method(decode_method(payload, strict=True))
        channel = self._channels.get(channel_id)
        if frame_type == FRAME_METHOD:
            if payload[:4] == ACCESS_REQUEST:
                self._on_access_request(channel_id, channel, payload)
                return None
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
            complete = channel.content.on_header(payload)
        elif frame_type == FRAME_BODY:
            complete = channel.content.on_body(payload)
        else:
            raise ProtocolError(ReplyCode.UNEXPECTED_FRAME, f"type {frame_type}")
        return channel.complete_content() if complete else None

    def _on_access_request(
        self, channel_id: int, channel: ServerChannel | None, payload: bytes
    ) -> None:
        """Answer access.request (30/10, gone from 0-9-1 but still answered by RabbitMQ).

        pamqp has no class for it, so it is read here: a realm short string and one
        octet of flags; the reply is access.request-ok with ticket 1.
        """
        if channel is None:
            raise ProtocolError(
                ReplyCode.CHANNEL_ERROR, "expected 'channel.open'", class_id=30, method_id=10
            )
        if channel.closing:
            return  # the broker is closing this channel: discarded until close-ok
        if len(payload) < 6 or len(payload) != 4 + 1 + payload[4] + 1:
            raise FrameError(f"cannot decode {binary_w(payload[4:])}", class_id=30, method_id=10)
        self._outgoing.append(
            b"\x01"
            + channel_id.to_bytes(2, "big")
            + len(ACCESS_REQUEST_OK).to_bytes(4, "big")
            + ACCESS_REQUEST_OK
            + b"\xce"
        )

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
            class_id=class_id_of(method),
            method_id=method_id_of(method),
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
            class_id=class_id_of(method),
            method_id=method_id_of(method),
        )

    def _on_closed_channel_method(self, channel_id: int, method: Frame) -> ServerEvent:
        if type(method) is not commands.Channel.Open:
            raise ProtocolError(
                ReplyCode.CHANNEL_ERROR,
                "expected 'channel.open'",
                class_id=class_id_of(method),
                method_id=method_id_of(method),
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

    #: How a frame is read in each connection state (the handshake states: the default).
    _FRAME_HANDLERS: ClassVar[dict[ServerState, Callable[..., ServerEvent | None]]] = {
        ServerState.OPEN: _on_open_frame,
        ServerState.CLOSING: _on_closing_frame,
    }
