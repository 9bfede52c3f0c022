"""The client's connection-level methods (channel 0), dispatched by a table.

:class:`ConnectionMethods` is the part of :class:`~.client.ClientConnection`
that handles connection.start, tune, open-ok, blocked/unblocked and the
closing handshake. Which method is accepted in which state is one table,
``_HANDLERS``, keyed by (state, method class), as the channel core's is.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, ClassVar

from pamqp import commands
from pamqp.base import Frame

from .codes import ReplyCode, class_id_of, method_id_of
from .errors import ProtocolError
from .events import (
    ConnectionBlocked,
    ConnectionClosed,
    ConnectionOpened,
    ConnectionUnblocked,
    Event,
)
from .frames import FrameReader
from .handshake import (
    DEFAULT_FRAME_MAX,
    check_frame_max,
    negotiate,
    negotiate_heartbeat,
    sasl_response,
)
from .heartbeat import HeartbeatClock
from .output import FrameOutput
from .wire import encode_method, encoded_table, make_method

__all__ = ["ConnectionMethods", "ConnectionState"]


class ConnectionState(enum.Enum):
    """Where the client is in the connection's life."""

    AWAIT_START = "await_start"
    AWAIT_TUNE = "await_tune"
    AWAIT_OPEN_OK = "await_open_ok"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class ConnectionMethods(FrameOutput):
    """Connection-level method handling of the client core (a base of ClientConnection)."""

    # Set by ClientConnection.__init__.
    state: ConnectionState
    login_method: str
    virtualhost: str
    client_properties: dict[str, Any]
    server_properties: dict[str, Any]
    channel_max: int
    frame_max: int
    heartbeat_interval: int
    _login: str
    _password: str
    _insist: bool
    _requested: tuple[int | None, int | None, int | None]
    _reader: FrameReader

    def _on_connection_method(self, method: Frame) -> Event | None:
        if isinstance(method, commands.Connection.Close):
            return self._on_server_connection_close(method)
        state = self.state
        handler = self._HANDLERS.get((state, type(method)))
        if handler is not None:
            return handler(self, method)
        if state is ConnectionState.CLOSING:
            return None  # anything but close-ok while closing is ignored
        if isinstance(method, commands.Connection.Secure):
            raise ProtocolError(
                ReplyCode.NOT_IMPLEMENTED,
                f"SASL challenge for mechanism {self.login_method} is not supported",
                class_id=class_id_of(method),
                method_id=method_id_of(method),
            )
        raise ProtocolError(
            ReplyCode.COMMAND_INVALID,
            f"unexpected {method.name} in connection state {state.value}",
            class_id=class_id_of(method),
            method_id=method_id_of(method),
        )

    def _on_close_ok(self, method: commands.Connection.CloseOk) -> Event:
        """close-ok for our connection.close: the connection is over."""
        self.state = ConnectionState.CLOSED
        return ConnectionClosed(ReplyCode.REPLY_SUCCESS, "closed by client", 0, 0, by_server=False)

    def _on_open_ok(self, method: commands.Connection.OpenOk) -> Event:
        """connection.open-ok: the connection is open."""
        self.state = ConnectionState.OPEN
        return ConnectionOpened(
            self.server_properties, self.channel_max, self.frame_max, self.heartbeat_interval
        )

    def _on_blocked(self, method: commands.Connection.Blocked) -> Event:
        """connection.blocked: the broker stopped reading our publishes."""
        return ConnectionBlocked(method.reason or "")

    def _on_unblocked(self, method: commands.Connection.Unblocked) -> Event:
        """connection.unblocked."""
        return ConnectionUnblocked()

    def _on_start(self, method: commands.Connection.Start) -> None:
        """connection.start: check the mechanism is offered, answer start-ok."""
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
        start_ok = make_method(
            commands.Connection.StartOk,
            client_properties=encoded_table(self.client_properties),
            mechanism=self.login_method,
            response=response,
            locale="en_US",
        )
        self._outgoing.append(encode_method(0, start_ok))
        self.state = ConnectionState.AWAIT_TUNE

    def _on_tune(self, method: commands.Connection.Tune) -> None:
        """connection.tune: negotiate the limits, answer tune-ok and connection.open."""
        channel_max, frame_max, heartbeat = self._requested
        self.channel_max = negotiate(channel_max, method.channel_max, 65535)
        self.frame_max = negotiate(frame_max, method.frame_max, DEFAULT_FRAME_MAX)
        check_frame_max(self.frame_max)
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
        """connection.close from the broker: answer close-ok; the connection is over."""
        self._outgoing.append(encode_method(0, commands.Connection.CloseOk()))
        self.state = ConnectionState.CLOSED
        return ConnectionClosed(
            method.reply_code or 0,
            method.reply_text or "",
            method.class_id or 0,
            method.method_id or 0,
            by_server=True,
        )

    #: Which connection method is accepted in which state (connection.close: in any).
    _HANDLERS: ClassVar[
        dict[tuple[ConnectionState, type[Frame]], Callable[[Any, Any], Event | None]]
    ] = {
        (ConnectionState.AWAIT_START, commands.Connection.Start): _on_start,
        (ConnectionState.AWAIT_TUNE, commands.Connection.Tune): _on_tune,
        (ConnectionState.AWAIT_OPEN_OK, commands.Connection.OpenOk): _on_open_ok,
        (ConnectionState.OPEN, commands.Connection.Blocked): _on_blocked,
        (ConnectionState.OPEN, commands.Connection.Unblocked): _on_unblocked,
        (ConnectionState.CLOSING, commands.Connection.CloseOk): _on_close_ok,
    }
