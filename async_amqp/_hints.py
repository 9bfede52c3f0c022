"""Words for people: what a connection's state means, and how to fix a common mistake.

Error messages built here name the host, port and stage of a failed connect, and
point at the fix when a habit from another AMQP library (aio-pika's ``await
connect(...)``, using a connection outside its ``async with`` block) fails.
"""

from __future__ import annotations

from typing import Any

from ._core.client import ClientConnection, ConnectionState

__all__ = [
    "AWAIT_HINT",
    "STATE_WORDS",
    "connect_stage",
    "describe_unusable",
    "note_connect_failure",
]

#: The TypeError's text for ``await connect_amqp(...)`` / ``await connect_from_url(...)``.
AWAIT_HINT = (
    "a connection is not awaitable: connect_amqp() and connect_from_url() return a "
    "connection to open with 'async with', e.g. "
    "'async with async_amqp.connect_from_url(url) as conn:' "
    "(aio-pika's 'await connect(...)' style is not how async_amqp opens connections)"
)

_STAGES = {
    ConnectionState.AWAIT_START: "AMQP handshake (waiting for connection.start)",
    ConnectionState.AWAIT_TUNE: "login",
    ConnectionState.AWAIT_OPEN_OK: "opening the virtual host",
}


#: A connection's state, as its repr says it.
STATE_WORDS = {
    ConnectionState.AWAIT_START: "not open",
    ConnectionState.AWAIT_TUNE: "logging in",
    ConnectionState.AWAIT_OPEN_OK: "opening the vhost",
    ConnectionState.OPEN: "open",
    ConnectionState.CLOSING: "closing",
    ConnectionState.CLOSED: "closed",
}


def describe_unusable(state: ConnectionState) -> str:
    """Why a connection in *state* cannot be used, and what to do instead.

    :param state: the connection's state (anything but ``OPEN``)
    """
    if state in _STAGES:
        return (
            "the connection is not open: use it inside its 'async with' block "
            "('async with async_amqp.connect_amqp(...) as conn:'), not before it starts"
        )
    if state is ConnectionState.CLOSING:
        return "the connection is closing"
    return "the connection is closed: use it inside its 'async with' block, not after it"


def connect_stage(core: ClientConnection, stream: Any) -> str:
    """The stage a connect failed at: TCP/TLS (no stream yet), handshake, login, vhost.

    Read from what the handshake had reached (the state itself is ``CLOSED`` by then).

    :param core: the connection's protocol core
    :param stream: the connection's stream (``None`` when it was never opened)
    """
    if stream is None:
        return "TCP connect or TLS handshake"
    if core.state is ConnectionState.OPEN:
        return "after the handshake"
    if not core.server_properties:
        return _STAGES[ConnectionState.AWAIT_START]
    if not core.channel_max:  # connection.tune not received yet
        return _STAGES[ConnectionState.AWAIT_TUNE]
    return f"opening the virtual host {core.virtualhost!r}"


def note_connect_failure(
    error: BaseException, host: str, port: int, core: ClientConnection, stream: Any
) -> None:
    """Add where and when a connect failed to *error* as a note (shown in tracebacks).

    :param error: the exception leaving ``async with connect_amqp(...)``'s entry
    :param host: the broker's host
    :param port: the broker's port
    :param core: the connection's protocol core
    :param stream: the connection's stream (``None`` when it was never opened)
    """
    error.add_note(f"while connecting to {host}:{port} (stage: {connect_stage(core, stream)})")
