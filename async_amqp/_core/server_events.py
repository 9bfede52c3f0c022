"""What the broker-role core reports to the broker after reading bytes.

Each event is a small slotted record the broker dispatches on by type, like the
client role's :mod:`.events`. Some ask the broker for a decision that needs its
state (a login, a vhost), which it answers through
:class:`~.server.ServerConnection`; the others report what already happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from pamqp.base import Frame

from .events import Record
from .propview import RawProperties

#: A message body as the broker keeps it: ``bytes``, or for a large body read by the
#: publish fast path, a read-only view of the bytes received
#: (:data:`~.server_publish.VIEW_MIN`).
Body: TypeAlias = bytes | memoryview
#: Bytes as received, as the broker core reads them: ``bytes``, or a read-only view of a
#: receive arena (:meth:`~.server_input.ServerInput.receive_data` says how views grow).
Received: TypeAlias = bytes | memoryview


class ServerEvent(Record):
    """Base class of server-role events."""

    __slots__ = ()


@dataclass(slots=True, frozen=True, eq=False)
class ProtocolHeaderRefused(ServerEvent):
    """The client sent another protocol header; ours was queued, then close the socket."""

    header: bytes


@dataclass(slots=True, frozen=True, eq=False, repr=False)
class LoginRequested(ServerEvent):
    """connection.start-ok arrived; answer with accept_login or refuse_login."""

    mechanism: str
    response: bytes
    client_properties: dict[str, Any]
    locale: str

    def __repr__(self) -> str:
        # The SASL response holds the password: never show it (in logs, in reprs).
        return (
            f"LoginRequested(mechanism={self.mechanism!r}, response=<{len(self.response)} bytes "
            f"hidden>, client_properties={self.client_properties!r}, locale={self.locale!r})"
        )


@dataclass(slots=True, frozen=True, eq=False)
class TuneAccepted(ServerEvent):
    """The client's tune-ok was within limits; the values now apply."""

    channel_max: int
    frame_max: int
    heartbeat: int


@dataclass(slots=True, frozen=True, eq=False)
class OpenRequested(ServerEvent):
    """connection.open arrived; answer with accept_open or close_connection."""

    virtual_host: str


@dataclass(slots=True, frozen=True, eq=False)
class ChannelOpened(ServerEvent):
    """A channel was opened (open-ok is already queued)."""

    channel_id: int


@dataclass(slots=True, eq=False)
class MethodReceived(ServerEvent):
    """A method (other than channel open/close) arrived on an open channel.

    ``payload`` is the method frame's payload as received, for arguments whose
    exact encoding matters (field tables keep their type tags there).
    """

    channel_id: int
    method: Frame
    payload: bytes = b""


@dataclass(slots=True, eq=False)
class ContentReceived(ServerEvent):
    """A complete publish arrived: method, raw properties, body."""

    channel_id: int
    method: Frame
    properties_payload: bytes
    body: bytes


@dataclass(slots=True, eq=False)
class PublishReceived(ServerEvent):
    """A whole basic.publish read by the fast path: its arguments, raw properties, body.

    ``raw_properties`` is the content header's property flags and list as received,
    already known to be one the broker accepts; it is kept opaque. ``properties`` is the
    core's view of it, holding what the check already parsed (``None``: make one).
    """

    channel_id: int
    exchange: str
    routing_key: str
    mandatory: bool
    immediate: bool
    raw_properties: bytes
    body: Body
    properties: RawProperties | None = None


@dataclass(slots=True, frozen=True, eq=False)
class ChannelClosedByClient(ServerEvent):
    """The client closed a channel (close-ok is already queued)."""

    channel_id: int
    reply_code: int
    reply_text: str


@dataclass(slots=True, frozen=True, eq=False)
class ChannelCloseConfirmed(ServerEvent):
    """The client confirmed a channel close the broker started; the number is free."""

    channel_id: int


@dataclass(slots=True, frozen=True, eq=False)
class ConnectionClosedByClient(ServerEvent):
    """The client closed the connection (close-ok is already queued)."""

    reply_code: int
    reply_text: str


@dataclass(slots=True, frozen=True, eq=False)
class ConnectionCloseConfirmed(ServerEvent):
    """The client confirmed the broker's connection.close: close the socket."""
