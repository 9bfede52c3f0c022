"""A quorum queue as a 0-9-1 client sees it on a single RabbitMQ 3.10 node.

What differs from a classic queue (observed on RabbitMQ 3.10.8, see NOTES.md):

* a message returned to the queue at least once carries an ``x-delivery-count``
  header (``l``) when delivered, and its headers table comes out sorted by key;
  basic.get adds the header (0) even the first time, consumers do not;
* every return to the queue counts as a delivery attempt: reject/nack with
  requeue, basic.recover, and a channel or connection closing with the message
  unacked. With ``x-delivery-limit`` N, a message returned with a count above N
  is dropped or dead-lettered with reason ``delivery_limit``;
* without a delivery limit an explicit requeue (reject, nack, recover) puts the
  message at the back of the queue; with one, and for messages returned by a
  closing channel or connection, it goes to the front (behind earlier returns);
* ``reject-publish`` refuses a publish only once the queue is already over its
  limit (so it can hold one message more); ``reject-publish-dlx`` acts as
  drop-head;
* ``queue.delete`` with if-unused or if-empty, and consuming on a channel with a
  global prefetch, are connection errors 540;
* with single-active-consumer, declare-ok counts only the active consumer.
"""

from __future__ import annotations

from .arguments import EQUIVALENCE_KEYS, Overflow
from .errors import not_implemented
from .fieldtable import Table
from .message import Message
from .queue import Queue
from .queueitems import DeathReason, QueuedMessage
from .queuetypes import QueueType, long_value, with_sorted_header

__all__ = ["QuorumQueue"]

_RETURNS_BASE = -(2**62)
# Observed order: x-dead-letter-strategy before everything, x-delivery-limit after
# x-quorum-initial-group-size (and before x-queue-leader-locator).
_GROUP_SIZE = EQUIVALENCE_KEYS.index("x-quorum-initial-group-size") + 1
_EQUIVALENCE_KEYS = (
    "x-dead-letter-strategy",
    *EQUIVALENCE_KEYS[:_GROUP_SIZE],
    "x-delivery-limit",
    *EQUIVALENCE_KEYS[_GROUP_SIZE:],
)


class QuorumQueue(Queue):
    """A quorum queue (``x-queue-type: quorum``)."""

    queue_type = QueueType.QUORUM
    runs_after_cancel = True
    lazy_expiry = False

    equivalence_keys = _EQUIVALENCE_KEYS
    # Returned messages wait in their own FIFO ahead of every other message.
    _returns = 0

    def survives_restart(self, item: QueuedMessage) -> bool:
        """A quorum queue stores every message durably: all stay across a restart."""
        return True

    @property
    def consumer_count(self) -> int:
        """Consumers in declare-ok: only the active one with single-active-consumer."""
        if self.settings.single_active_consumer:
            return min(1, len(self.consumers))
        return len(self.consumers)

    def outgoing(self, item: QueuedMessage, *, get: bool = False) -> Message:
        """The message with its ``x-delivery-count`` header (a consumer's first delivery
        comes as published; basic.get always adds the header)."""
        if not get and item.delivery_count == 0:
            return item.message
        return with_sorted_header(
            item.message, b"x-delivery-count", long_value(item.delivery_count)
        )

    def rejects_publish(self, item: QueuedMessage) -> bool:
        """reject-publish refuses only when the queue is already over a limit."""
        return self.over_limit()

    def drop_heads(self, now: float) -> bool:
        """Only drop-head sheds messages; reject-publish may sit one message over."""
        if self.settings.overflow is Overflow.DROP_HEAD:
            return super().drop_heads(now)
        return False

    def expires_after_publish(self, item: QueuedMessage, dropped: bool, now: float) -> bool:
        """Only a message that has already expired is dropped at once."""
        del dropped
        return item.expires_at is not None and item.expires_at <= now

    def requeue(self, items: list[QueuedMessage], now: float, *, explicit: bool = False) -> None:
        """Return messages: count the attempt, enforce the delivery limit, then reinsert."""
        self.unacked_count -= len(items)
        if self.deleted:
            return
        limit = self.settings.delivery_limit
        over: list[QueuedMessage] = []
        to_front = limit is not None or not explicit
        for item in items:
            item.delivery_count += 1
            if limit is not None and item.delivery_count > limit:
                over.append(item)
                continue
            item.redelivered = True
            if to_front:
                self._returns += 1
                item.seq = _RETURNS_BASE + self._returns
            else:
                item.seq = self.take_seq()
            self.insert_ready(item)
        self.drop_heads(now)
        if over:
            self.vhost.dead_letter(self, over, DeathReason.DELIVERY_LIMIT, now)

    def consumer_priority(
        self, arguments: Table, *, no_ack: bool, prefetch_count: int, global_prefetch: int
    ) -> int:
        """Validate a consume; a channel with a global prefetch cannot consume (540).

        :raises AmqpError: 406 bad arguments, 540 global qos.
        """
        priority = super().consumer_priority(
            arguments, no_ack=no_ack, prefetch_count=prefetch_count, global_prefetch=global_prefetch
        )
        if global_prefetch:
            raise not_implemented(f"{self.what} does not support global qos")
        return priority

    def check_delete(self, *, if_unused: bool, if_empty: bool) -> None:
        """if-unused and if-empty are not supported (540 connection error).

        :raises AmqpError: 540.
        """
        for flag, name in ((if_unused, "if-unused"), (if_empty, "if-empty")):
            if flag:
                raise not_implemented(
                    f"cannot delete {self.what}. queue.delete operations with {name} flag "
                    "set are not supported by quorum queues"
                )
