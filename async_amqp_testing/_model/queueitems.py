"""What a queue holds and whom it delivers to: queued messages and consumers.

A :class:`QueuedMessage` is a message's place in one queue (its position,
priority, expiry, delivery count); a :class:`Consumer` is a basic.consume on
a channel (a :class:`ConsumerChannel`). :class:`DeathReason` and
:class:`PublishOutcome` name what a queue decided. The rules that use them are
in :mod:`.queue` and its replicated types.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from .fieldtable import Table
from .message import Message

if TYPE_CHECKING:
    from .queue import Queue

__all__ = ["Consumer", "ConsumerChannel", "DeathReason", "PublishOutcome", "QueuedMessage"]


class DeathReason(Enum):
    """Why a message is dead-lettered (the ``reason`` in ``x-death``)."""

    REJECTED = "rejected"
    EXPIRED = "expired"
    MAXLEN = "maxlen"
    DELIVERY_LIMIT = "delivery_limit"


class PublishOutcome(Enum):
    """What a queue did with one published message."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


class QueuedMessage:
    """A message as one queue holds it; ``seq`` fixes its position for requeues.

    One slotted object per queued message. The routing keys are kept only when CC/BCC
    added some (otherwise they are just the message's routing key, which is shared).
    ``delivery_count`` counts returns to a quorum queue (``x-delivery-count``).
    """

    __slots__ = (
        "_extra_keys",
        "delivery_count",
        "expires_at",
        "message",
        "priority",
        "redelivered",
        "seq",
    )

    def __init__(
        self,
        message: Message,
        routing_keys: tuple[str, ...],
        seq: int,
        priority: int,
        expires_at: float | None,
        redelivered: bool = False,
        delivery_count: int = 0,
    ) -> None:
        self.message = message
        self._extra_keys = (
            None if routing_keys == (message.routing_key,) else tuple(map(sys.intern, routing_keys))
        )
        self.seq = seq
        self.priority = priority
        self.expires_at = expires_at
        self.redelivered = redelivered
        self.delivery_count = delivery_count

    @property
    def routing_keys(self) -> tuple[str, ...]:
        """The keys it was routed with: the routing key, then CC and BCC ones."""
        extra = self._extra_keys
        return (self.message.routing_key,) if extra is None else extra

    @property
    def size(self) -> int:
        """Body size, what x-max-length-bytes counts."""
        return len(self.message.body)

    def __repr__(self) -> str:
        return (
            f"QueuedMessage(seq={self.seq}, priority={self.priority}, "
            f"expires_at={self.expires_at}, redelivered={self.redelivered}, {self.message!r})"
        )


class ConsumerChannel(Protocol):
    """What a queue needs from the channel that owns a consumer."""

    def consumer_has_capacity(self, consumer: Consumer) -> bool:
        """Whether prefetch allows one more delivery to ``consumer``."""

    def deliver(self, consumer: Consumer, queue: Queue, item: QueuedMessage) -> None:
        """Assign a delivery tag and stage the delivery."""

    def server_cancel(self, consumer: Consumer) -> None:
        """Forget a consumer the server cancelled, notifying the client if it asked."""


@dataclass(eq=False)
class Consumer:
    """A basic.consume registration."""

    consumer_tag: str
    channel: ConsumerChannel
    queue: Queue
    no_ack: bool
    exclusive: bool
    priority: int
    prefetch_count: int
    arguments: Table = field(default_factory=dict)
    unacked: int = 0
