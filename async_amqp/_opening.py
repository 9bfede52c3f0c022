"""Opening a connection: its deadline, its stages, and what a failure while opening means.

A connection opens in stages: TCP (and TLS), the protocol header answered by
connection.start, the login (start-ok answered by connection.tune), and the vhost
(connection.open answered by open-ok). :class:`OpeningDeadline` puts one deadline
over all of them and names the stage that stalled; :func:`end_of_stream_error` and
:func:`violation_error` turn a hang-up or a protocol fault into the exception the
user sees, naming the stage and the peer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio

from . import exceptions
from ._core.client import ConnectionState
from ._core.errors import NotAmqpPeer, ProtocolError, ProtocolHeaderMismatch
from ._core.wire import PROTOCOL_HEADER

#: RabbitMQ's clients give a connection this long to open (TCP, TLS and handshake).
DEFAULT_CONNECTION_TIMEOUT = 10.0

CONNECTING = "connecting (TCP and TLS)"

_STAGES = {
    ConnectionState.AWAIT_START: (
        "waiting for connection.start (the broker's answer to the protocol header)"
    ),
    ConnectionState.AWAIT_TUNE: (
        "logging in (waiting for connection.tune after connection.start-ok)"
    ),
    ConnectionState.AWAIT_OPEN_OK: "opening the vhost (waiting for connection.open-ok)",
}


def handshake_stage(state: ConnectionState) -> str:
    """Describe what the client waits for in *state* (for errors raised while opening)."""
    return _STAGES.get(state, f"in state {state.value}")


class OpeningDeadline:
    """One deadline over every stage of opening a connection.

    :param timeout: seconds allowed in all, ``None`` for no limit
    :param host: the broker's host, for the error
    :param port: the broker's port, for the error
    """

    def __init__(self, timeout: float | None, host: str, port: int) -> None:
        self._timeout = timeout
        self._deadline = math.inf if timeout is None else anyio.current_time() + timeout
        self._host = host
        self._port = port

    @contextmanager
    def stage(self, describe: Callable[[], str]) -> Iterator[None]:
        """Run a stage under the deadline.

        :param describe: names the stage when the time runs out (called then)
        :raises HandshakeTimeoutError: when the deadline passes inside the block
        """
        with anyio.CancelScope(deadline=self._deadline) as scope:
            yield
        if scope.cancelled_caught:
            assert self._timeout is not None
            raise exceptions.HandshakeTimeoutError(
                self._host, self._port, describe(), self._timeout
            )


def _peer_kind(received: bytes) -> str:
    """What a non-AMQP greeting looks like, for the error text."""
    if received.startswith(b"HTTP/"):
        return "an HTTP server"
    if received.startswith(b"INFO {"):
        return "a NATS server"
    if received.startswith((b"SSH-", b"220 ", b"+OK", b"* OK")):
        return "a line-based server greeting first"
    return "an unknown protocol"


def violation_error(error: ProtocolError, host: str, port: int) -> exceptions.AmqpError:
    """The exception for a fault the client's core found in the peer's bytes."""
    if isinstance(error, ProtocolHeaderMismatch):
        return exceptions.ProtocolMismatchError(
            0,
            f"{host}:{port} refused AMQP 0-9-1: it answered the client's protocol header "
            f"{PROTOCOL_HEADER!r} with protocol header {error.received!r}",
        )
    if isinstance(error, NotAmqpPeer):
        return exceptions.ProtocolMismatchError(
            0,
            f"the peer is not an AMQP broker ({_peer_kind(error.received)}): it answered "
            f"{error.received[:64]!r} where connection.start was due "
            f"({host}:{port}, stage: AMQP handshake)",
        )
    if error.reply_code == 403:  # the broker offers none of our login mechanisms
        return exceptions.AuthenticationError(error.reply_code, error.reply_text)
    return exceptions.protocol_violation(
        error.reply_code, error.reply_text, error.class_id, error.method_id
    )


def end_of_stream_error(
    state: ConnectionState,
    error: BaseException,
    *,
    clean_cut: bool,
    login: str,
    login_method: str,
    virtualhost: str,
    address: str,
) -> exceptions.ConnectionClosedError:
    """The exception for a connection that ended without a closing handshake.

    Only an orderly close right after start-ok (*clean_cut*: end of stream, no
    partial frame received) is a refused login: RabbitMQ closes the socket that way
    when the client did not announce ``authentication_failure_close``. A reset, a
    broken stream or a cut frame at that stage is a lost connection.

    :param state: the core's state when the stream ended
    :param error: what the stream raised
    :param clean_cut: the peer closed in order, between frames
    :param address: ``host:port`` of the peer, for a peer that hangs up before greeting
    """
    if state is ConnectionState.AWAIT_TUNE and clean_cut:
        return exceptions.AuthenticationError(
            403,
            f"the broker closed the connection during login: login refused for user "
            f"{login!r} with mechanism {login_method} (wrong user name or password?)",
        )
    how = (
        "the broker closed the connection"
        if isinstance(error, anyio.EndOfStream)
        else f"connection lost ({error!r})"
    )
    if state is ConnectionState.AWAIT_START and clean_cut:
        return exceptions.ConnectionLostError(
            0,
            f"{address} closed the connection before the AMQP handshake "
            "(stage: waiting for connection.start): is this an AMQP broker's port?",
        )
    if state is ConnectionState.AWAIT_OPEN_OK:
        return exceptions.ConnectionLostError(0, f"{how} while opening vhost {virtualhost!r}")
    if state in _STAGES:
        return exceptions.ConnectionLostError(0, f"{how} while {handshake_stage(state)}")
    return exceptions.ConnectionLostError(
        0, how if isinstance(error, anyio.EndOfStream) else f"connection lost: {error!r}"
    )
