"""What the client-role core reports to the I/O layer after reading bytes.

Each event is a small slotted record; the I/O layer dispatches on its type.
Nothing here refers to anyio: waiters and publish tokens are opaque objects
the I/O layer handed to the core.
"""

from __future__ import annotations

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


class ConnectionOpened(Event):
    """The handshake finished: tuning is agreed and the vhost is open."""

    __slots__ = ("channel_max", "frame_max", "heartbeat", "server_properties")

    def __init__(
        self, server_properties: dict[str, Any], channel_max: int, frame_max: int, heartbeat: int
    ) -> None:
        self.server_properties = server_properties
        self.channel_max = channel_max
        self.frame_max = frame_max
        self.heartbeat = heartbeat


class ReplyArrived(Event):
    """A synchronous reply matched its request (get-ok carries its message).

    ``properties`` holds the message's 14 property values in wire order.
    """

    __slots__ = ("body", "channel_id", "method", "properties", "slot")

    def __init__(
        self,
        channel_id: int,
        slot: PendingReply,
        method: Frame,
        properties: tuple[Any, ...] = NO_PROPERTIES,
        body: bytes = b"",
    ) -> None:
        self.channel_id = channel_id
        self.slot = slot
        self.method = method
        self.properties = properties
        self.body = body


class MessageDelivered(Event):
    """A consumer received a message (basic.deliver, its property values and body)."""

    __slots__ = ("body", "channel_id", "method", "properties")

    def __init__(
        self,
        channel_id: int,
        method: commands.Basic.Deliver,
        properties: tuple[Any, ...],
        body: bytes,
    ) -> None:
        self.channel_id = channel_id
        self.method = method
        self.properties = properties
        self.body = body


class MessageReturned(Event):
    """The broker returned an unroutable mandatory message.

    ``token`` is the publish it belongs to when the channel is in confirm mode;
    ``properties`` holds the message's 14 property values in wire order.
    """

    __slots__ = ("body", "channel_id", "method", "properties", "token")

    def __init__(
        self,
        channel_id: int,
        method: commands.Basic.Return,
        properties: tuple[Any, ...],
        body: bytes,
        token: Any,
    ) -> None:
        self.channel_id = channel_id
        self.method = method
        self.properties = properties
        self.body = body
        self.token = token


class PublishesSettled(Event):
    """Publisher confirms arrived: ``settled`` holds ``(token, was_returned)`` pairs."""

    __slots__ = ("ack", "channel_id", "settled")

    def __init__(self, channel_id: int, ack: bool, settled: list[tuple[Any, bool]]) -> None:
        self.channel_id = channel_id
        self.ack = ack
        self.settled = settled


class ConsumerCancelled(Event):
    """The broker cancelled a consumer (its queue was deleted, or an operator did it)."""

    __slots__ = ("channel_id", "consumer_tag")

    def __init__(self, channel_id: int, consumer_tag: str) -> None:
        self.channel_id = channel_id
        self.consumer_tag = consumer_tag


class ChannelFlow(Event):
    """The broker asked the channel to pause (``active=False``) or resume publishing."""

    __slots__ = ("active", "channel_id")

    def __init__(self, channel_id: int, active: bool) -> None:
        self.channel_id = channel_id
        self.active = active


class ChannelClosed(Event):
    """A channel ended: by the broker (``by_server``) or by our close being confirmed.

    ``pending`` are the requests that will never be answered; ``unconfirmed``
    the publish tokens that will never be confirmed.
    """

    __slots__ = (
        "by_server",
        "channel_id",
        "class_id",
        "method_id",
        "pending",
        "reply_code",
        "reply_text",
        "unconfirmed",
    )

    def __init__(
        self,
        channel_id: int,
        reply_code: int,
        reply_text: str,
        class_id: int,
        method_id: int,
        *,
        by_server: bool,
        pending: list[PendingReply],
        unconfirmed: list[Any],
    ) -> None:
        self.channel_id = channel_id
        self.reply_code = reply_code
        self.reply_text = reply_text
        self.class_id = class_id
        self.method_id = method_id
        self.by_server = by_server
        self.pending = pending
        self.unconfirmed = unconfirmed


class ConnectionClosed(Event):
    """The connection ended: the broker closed it, or confirmed our close."""

    __slots__ = ("by_server", "class_id", "method_id", "reply_code", "reply_text")

    def __init__(
        self, reply_code: int, reply_text: str, class_id: int, method_id: int, *, by_server: bool
    ) -> None:
        self.reply_code = reply_code
        self.reply_text = reply_text
        self.class_id = class_id
        self.method_id = method_id
        self.by_server = by_server


class ConnectionBlocked(Event):
    """The broker stopped reading publishes (a resource alarm)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class ConnectionUnblocked(Event):
    """The broker accepts publishes again."""

    __slots__ = ()
