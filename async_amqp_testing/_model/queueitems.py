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

__all__ = [
    "Consumer",
    "ConsumerChannel",
    "ConsumerRotation",
    "DeathReason",
    "PublishOutcome",
    "QueuedMessage",
]


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


class ConsumerRotation:
    """A queue's consumers in RabbitMQ's delivery order: by priority, round robin.

    A consumer found without capacity leaves the rotation ("blocked") and rejoins it at
    the back once it has capacity again, as in RabbitMQ's queue process: so after a
    requeue, a consumer that was blocked comes after one that just took a message.
    """

    __slots__ = ("_blocked", "_priorities_differ", "_rotation")

    def __init__(self) -> None:
        self._rotation: list[Consumer] = []
        self._blocked: list[Consumer] = []
        self._priorities_differ = False  # consumers of more than one priority

    def add(self, consumer: Consumer) -> None:
        self._rotation.append(consumer)
        self._update_priorities()

    def remove(self, consumer: Consumer) -> None:
        if consumer in self._blocked:
            self._blocked.remove(consumer)
        else:
            self._rotation.remove(consumer)
        self._update_priorities()

    def clear(self) -> None:
        self._rotation.clear()
        self._blocked.clear()
        self._priorities_differ = False

    def _update_priorities(self) -> None:
        self._priorities_differ = len({c.priority for c in (*self._rotation, *self._blocked)}) > 1

    def pick(self) -> Consumer | None:
        """The next consumer with capacity; those passed over without capacity are blocked."""
        rotation, blocked = self._rotation, self._blocked
        if blocked:
            for consumer in [c for c in blocked if c.channel.consumer_has_capacity(c)]:
                blocked.remove(consumer)
                rotation.append(consumer)
        candidates = sorted(rotation, key=_by_priority) if self._priorities_differ else rotation
        for index, consumer in enumerate(candidates):
            if consumer.channel.consumer_has_capacity(consumer):
                self._block(candidates[:index])
                return consumer
        self._block(list(candidates))
        return None

    def _block(self, consumers: list[Consumer]) -> None:
        for consumer in consumers:
            self._rotation.remove(consumer)
            self._blocked.append(consumer)

    def delivered(self, consumer: Consumer) -> None:
        """The consumer just took a message: it goes to the back of the rotation."""
        self._rotation.remove(consumer)
        self._rotation.append(consumer)


def _by_priority(consumer: Consumer) -> int:
    return -consumer.priority
