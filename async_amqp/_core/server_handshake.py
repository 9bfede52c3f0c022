"""The broker side's handshake: protocol header, start-ok, tune-ok, open.

:class:`ServerHandshake` is the part of :class:`~.server.ServerConnection`
that runs the connection's opening: it reads the protocol header, asks the
broker to decide on the login and the vhost (events answered with
:meth:`~ServerHandshake.accept_login`, :meth:`~ServerHandshake.refuse_login`,
:meth:`~ServerHandshake.accept_open`) and checks tune-ok against the offer,
with RabbitMQ's codes and its silent closes before tune-ok.
"""

from __future__ import annotations

import enum
from typing import Any

from pamqp import commands

from .codes import ReplyCode, class_id_of, method_id_of
from .erlang import unexpected_frame_text
from .errors import ProtocolError
from .frames import FRAME_METHOD, FRAME_MIN_SIZE, PROTOCOL_HEADER, FrameReader
from .heartbeat import HeartbeatClock
from .server_events import (
    LoginRequested,
    OpenRequested,
    ProtocolHeaderRefused,
    ServerEvent,
    TuneAccepted,
)
from .server_frames import ServerOutput
from .wire import decode_method, encode_method

__all__ = ["ACCEPTED_HEADERS", "ServerHandshake", "ServerState"]

#: Headers RabbitMQ accepts: 0-9-1, and 0-9 as sent by old clients (class 1, instance 1).
ACCEPTED_HEADERS = frozenset({PROTOCOL_HEADER, b"AMQP\x01\x01\x00\x09"})


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


class ServerHandshake(ServerOutput):
    """Handshake of the broker core (a base of ServerConnection)."""

    # Set by ServerConnection.__init__.
    state: ServerState
    server_properties: dict[str, Any]
    mechanisms: str
    locales: str
    offered: tuple[int, int, int]
    channel_max: int
    frame_max: int
    heartbeat_interval: int
    client_properties: dict[str, Any]
    _reader: FrameReader

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

    def _on_protocol_header(self, data: bytes) -> ProtocolHeaderRefused | None:
        """Read the protocol header; send connection.start, or refuse an unknown header."""
        header = self._reader.read_protocol_header(data)
        if header is None:
            return None
        if header not in ACCEPTED_HEADERS:
            self._outgoing.append(PROTOCOL_HEADER)
            self.state = ServerState.CLOSED
            return ProtocolHeaderRefused(header)
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
        return None

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
            class_id=class_id_of(method),
            method_id=method_id_of(method),
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
            class_id=class_id_of(method),
            method_id=method_id_of(method),
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
