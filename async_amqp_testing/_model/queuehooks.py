"""What differs between queue types, as overridable methods with the classic defaults.

`Queue` (classic) inherits these unchanged; `QuorumQueue` and `StreamQueue`
override them. Channels and the declare code call the hooks instead of asking
which type a queue is, so a type's rules stay in its own module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .arguments import EQUIVALENCE_KEYS, consumer_priority
from .fieldtable import Table
from .message import PropertySlot, property_octet
from .queuetypes import QueueType

if TYPE_CHECKING:
    from .message import Message
    from .queueitems import QueuedMessage
    from .vhost import Vhost

__all__ = ["PERSISTENT", "QueueTypeHooks"]

#: ``delivery_mode`` of a persistent message.
PERSISTENT = 2


class QueueTypeHooks:
    """Classic-queue behaviour of the points where queue types differ."""

    queue_type = QueueType.CLASSIC
    #: Whether a basic.cancel makes the queue look for deliveries. RabbitMQ 3.10's classic
    #: queue process does not: with a single active consumer, the next consumer gets the
    #: backlog only at the next consume, requeue or channel close, and a publish meanwhile
    #: crashes the queue (`Queue.publish`).
    runs_after_cancel = False
    #: The arguments compared on redeclare, in RabbitMQ's order.
    equivalence_keys: tuple[str, ...] = EQUIVALENCE_KEYS
    name: str
    vhost: Vhost

    @property
    def what(self) -> str:
        """``queue 'Q' in vhost 'V'``."""
        return self.vhost.describe_queue(self.name)

    def consumer_priority(
        self, arguments: Table, *, no_ack: bool, prefetch_count: int, global_prefetch: int
    ) -> int:
        """Validate a basic.consume on this queue; returns the consumer priority.

        :raises AmqpError: 406 for bad consumer arguments (and the type's own refusals).
        """
        return consumer_priority(arguments, self.name, self.vhost.name, self.queue_type)

    def check_delete(self, *, if_unused: bool, if_empty: bool) -> None:
        """Refuse queue.delete flags the type does not support (classic: all fine)."""

    def check_get(self) -> None:
        """Refuse basic.get if the type does not support it (classic: fine)."""

    def check_purge(self) -> None:
        """Refuse queue.purge if the type does not support it (classic: fine)."""

    def check_reject(self) -> None:
        """Refuse basic.nack / basic.reject of a delivery from this queue (classic: fine)."""

    def check_recover(self) -> None:
        """Refuse basic.recover of a delivery from this queue (classic: fine)."""

    def survives_restart(self, item: QueuedMessage) -> bool:
        """Whether a ready message outlives a broker restart (classic: persistent ones only).

        Quorum queues and streams store every message durably and keep them all.
        """
        mode = property_octet(item.message.raw_properties, PropertySlot.DELIVERY_MODE)
        return mode == PERSISTENT

    def outgoing(self, item: QueuedMessage, *, get: bool = False) -> Message:
        """The message as delivered to a consumer or by basic.get (classic: as published)."""
        return item.message
