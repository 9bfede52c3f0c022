"""What the client-role core reports to the I/O layer after reading bytes.

Each event is a slotted dataclass (frozen, except the per-message ones, where a
frozen dataclass costs 3x to build); the I/O layer dispatches on its type.
Nothing here refers to anyio: waiters and publish tokens are opaque objects
the I/O layer handed to the core.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

from pamqp import commands
from pamqp.base import Frame

from .replies import PendingReply

#: The property values of a message without properties (14 ``None``).
NO_PROPERTIES: tuple[Any, ...] = (None,) * 14


class Record:
    """A small slotted record whose repr lists its fields (base of both roles' events)."""

    __slots__ = ()

    def __repr__(self) -> str:
        names: tuple[str, ...] = self.__slots__
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({fields})"


class Event(Record):
    """Base class of client-role events."""

    __slots__ = ()


@dataclass(slots=True, frozen=True, eq=False)
class ConnectionOpened(Event):
    """The handshake finished: tuning is agreed and the vhost is open."""

    server_properties: dict[str, Any]
    channel_max: int
    frame_max: int
    heartbeat: int


@dataclass(slots=True, eq=False)
class ReplyArrived(Event):
    """A synchronous reply matched its request (get-ok carries its message).

    ``properties`` holds the message's 14 property values in wire order.
    """

    channel_id: int
    slot: PendingReply
    method: Frame
    properties: tuple[Any, ...] = NO_PROPERTIES
    body: bytes = b""


@dataclass(slots=True, eq=False)
class MessageDelivered(Event):
    """A consumer received a message (basic.deliver, its property values and body)."""

    channel_id: int
    method: commands.Basic.Deliver
    properties: tuple[Any, ...]
    body: bytes


@dataclass(slots=True, frozen=True, eq=False)
class MessageReturned(Event):
    """The broker returned an unroutable mandatory message.

    ``token`` is the publish it belongs to when the channel is in confirm mode;
    ``properties`` holds the message's 14 property values in wire order.
    """

    channel_id: int
    method: commands.Basic.Return
    properties: tuple[Any, ...]
    body: bytes
    token: Any


@dataclass(slots=True, eq=False)
class PublishesSettled(Event):
    """Publisher confirms arrived: ``settled`` holds ``(token, was_returned)`` pairs."""

    channel_id: int
    ack: bool
    settled: list[tuple[Any, bool]]


@dataclass(slots=True, frozen=True, eq=False)
class ConsumerCancelled(Event):
    """The broker cancelled a consumer (its queue was deleted, or an operator did it)."""

    channel_id: int
    consumer_tag: str


@dataclass(slots=True, frozen=True, eq=False)
class ChannelFlow(Event):
    """The broker asked the channel to pause (``active=False``) or resume publishing."""

    channel_id: int
    active: bool


@dataclass(slots=True, frozen=True, eq=False)
class ChannelClosed(Event):
    """A channel ended: by the broker (``by_server``) or by our close being confirmed.

    ``pending`` are the requests that will never be answered; ``unconfirmed``
    the publish tokens that will never be confirmed.
    """

    channel_id: int
    reply_code: int
    reply_text: str
    class_id: int
    method_id: int
    _: KW_ONLY
    by_server: bool
    pending: list[PendingReply]
    unconfirmed: list[Any]


@dataclass(slots=True, frozen=True, eq=False)
class ConnectionClosed(Event):
    """The connection ended: the broker closed it, or confirmed our close."""

    reply_code: int
    reply_text: str
    class_id: int
    method_id: int
    _: KW_ONLY
    by_server: bool


@dataclass(slots=True, frozen=True, eq=False)
class ConnectionBlocked(Event):
    """The broker stopped reading publishes (a resource alarm)."""

    reason: str


@dataclass(slots=True, frozen=True, eq=False)
class ConnectionUnblocked(Event):
    """The broker accepts publishes again."""
