"""One classic queue: ready messages, consumers and delivery order.

The queue owns its ready messages (FIFO within a priority level, requeued
messages back at their original position), its consumers (priorities,
round-robin, single active consumer), and the rules that drop messages:
message TTL at the head, x-max-length overflow. Deliveries are handed to the
consumer's channel, which stages them; nothing here touches a connection.
Dead-lettering is delegated to the vhost after the queue's own state is
consistent, so a dead-letter that lands back here finds no half-done update.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable, Iterator
from sys import _clear_type_cache  # a documented CPython function (the sys module docs)
from typing import TYPE_CHECKING

from .arguments import Overflow, QueueSettings
from .fieldtable import Table
from .message import Message, PropertySlot, RawProperties, parse_expiration
from .queueexpiry import QueueExpiry
from .queuehooks import QueueTypeHooks
from .queueitems import Consumer, ConsumerRotation, DeathReason, PublishOutcome, QueuedMessage

if TYPE_CHECKING:
    from .vhost import Vhost

__all__ = ["Queue"]

#: A queue that held this many ready messages releases the interpreter's attribute
#: lookup cache when it is purged or deleted (see `release_lookup_cache`).
BACKLOG_RELEASE_THRESHOLD = 10_000


def release_lookup_cache() -> None:
    """Drop the name strings CPython's type attribute cache holds on to.

    The cache keeps a strong reference to the last name looked up in each of its 4096
    slots, keyed by the string's address. pamqp builds attribute names per call
    (``getattr(cls, "_" + name)``) while it encodes and decodes every frame, so after a
    backlog has come and gone, up to 4096 of those short strings stay alive, scattered
    over pymalloc arenas that are otherwise empty, and each keeps its 1 MiB arena
    (measured: ~30 MiB of RSS after a 100k-message backlog was drained and deleted).
    Clearing the cache frees them; it refills on the next lookups.
    """
    _clear_type_cache()


class Queue(QueueExpiry, QueueTypeHooks):
    """A classic queue in one vhost (other types subclass it: quorum.py, stream.py)."""

    def __init__(
        self,
        vhost: Vhost,
        name: str,
        *,
        durable: bool,
        exclusive_owner: object | None,
        auto_delete: bool,
        arguments: Table,
        settings: QueueSettings,
        now: float,
    ) -> None:
        self.vhost = vhost
        self.name = name
        self.durable = durable
        self.exclusive_owner = exclusive_owner
        self.auto_delete = auto_delete
        self.arguments = arguments
        self.settings = settings
        self.consumers: list[Consumer] = []
        self.unacked_count = 0
        self.deleted = False
        self.last_used = now
        if settings.expires is not None:
            vhost.timed.add(self)
        self._levels: dict[int, deque[QueuedMessage]] = {}
        self._priorities: list[int] = []  # descending
        self._ready_count = 0
        self._ready_bytes = 0
        self._peak_ready = 0
        self._next_seq = 0
        self._rotation = ConsumerRotation()

    # ---- inspection -------------------------------------------------------

    @property
    def message_count(self) -> int:
        """Ready messages (including expired ones not yet at the head)."""
        return self._ready_count

    @property
    def consumer_count(self) -> int:
        """Registered consumers (all of them, also with single-active-consumer)."""
        return len(self.consumers)

    def ready(self) -> Iterator[QueuedMessage]:
        """Ready messages in delivery order."""
        for priority in self._priorities:
            yield from self._levels[priority]

    # ---- message store ----------------------------------------------------

    def _priority_of(self, properties: RawProperties) -> int:
        if self.settings.max_priority is None:
            return 0
        value = properties.octet(PropertySlot.PRIORITY)
        return 0 if value is None else min(value, self.settings.max_priority)

    def insert_ready(self, item: QueuedMessage) -> None:
        """Put *item* among the ready messages, in order of priority and position."""
        level = self._levels.get(item.priority)
        if level is None:
            level = self._levels[item.priority] = deque()
            self._priorities = sorted(self._levels, reverse=True)
        if not level or level[-1].seq < item.seq:
            level.append(item)
        else:
            level.insert(bisect.bisect_left(level, item.seq, key=lambda q: q.seq), item)
        self._ready_count += 1
        self._ready_bytes += item.size
        if self._ready_count > self._peak_ready:
            self._peak_ready = self._ready_count
        if item.expires_at is not None:
            self.vhost.timed.add(self)

    def _head(self) -> QueuedMessage | None:
        for priority in self._priorities:
            level = self._levels[priority]
            if level:
                return level[0]
        return None

    def _pop_head(self) -> QueuedMessage | None:
        for priority in self._priorities:
            level = self._levels[priority]
            if level:
                item = level.popleft()
                self._ready_count -= 1
                self._ready_bytes -= item.size
                return item
        return None

    def over_limit(self, extra_count: int = 0, extra_bytes: int = 0) -> bool:
        """Whether the ready messages (with *extra_count*/*extra_bytes* more) pass a limit."""
        max_length, max_bytes = self.settings.max_length, self.settings.max_length_bytes
        return (max_length is not None and self._ready_count + extra_count > max_length) or (
            max_bytes is not None and self._ready_bytes + extra_bytes > max_bytes
        )

    def take_seq(self) -> int:
        """The next arrival position (a message taken later sorts after every earlier one)."""
        self._next_seq += 1
        return self._next_seq

    # ---- publishing -------------------------------------------------------

    def new_item(
        self,
        message: Message,
        routing_keys: tuple[str, ...],
        now: float,
        properties: RawProperties | None = None,
    ) -> QueuedMessage:
        """Wrap a message for this queue, computing its position, priority and expiry.

        :param properties: the view of ``message.raw_properties`` (made here if not given)
        """
        if properties is None:
            properties = RawProperties(message.raw_properties)
        ttl = self.settings.message_ttl
        expiration = properties.shortstr(PropertySlot.EXPIRATION)
        if expiration:
            per_message = parse_expiration(expiration)
            ttl = per_message if ttl is None else min(ttl, per_message)
        return QueuedMessage(
            message,
            routing_keys,
            self.take_seq(),
            self._priority_of(properties),
            None if ttl is None else now + ttl / 1000.0,
        )

    def publish(
        self,
        message: Message,
        routing_keys: tuple[str, ...],
        now: float,
        properties: RawProperties | None = None,
    ) -> PublishOutcome:
        """Accept a routed message: overflow rules, direct delivery, else enqueue.

        :param properties: the view of ``message.raw_properties`` (made if not given)
        """
        item = self.new_item(message, routing_keys, now, properties)
        overflow = self.settings.overflow
        if overflow is not Overflow.DROP_HEAD and self.rejects_publish(item):
            if overflow is Overflow.REJECT_PUBLISH_DLX:
                self.vhost.dead_letter(self, [item], DeathReason.MAXLEN, now)
            return PublishOutcome.REJECTED
        if self._ready_count == 0:
            consumer = self._pick_consumer()
            if consumer is not None:
                # RabbitMQ hands a message to a waiting consumer before TTL or
                # max-length are considered: TTL 0 still reaches such a consumer.
                self._deliver(consumer, item)
                return PublishOutcome.ACCEPTED
        elif (
            self.settings.single_active_consumer
            and not self.runs_after_cancel
            and self._pick_consumer() is not None
        ):
            # Only after a basic.cancel left a single active consumer's backlog waiting:
            # RabbitMQ's classic queue process crashes delivering past its backlog.
            self.vhost.restart_queue(self, now)  # the message is lost, yet confirmed
            return PublishOutcome.ACCEPTED
        self.insert_ready(item)
        if self.expires_after_publish(item, self.drop_heads(now), now):
            self.expire(now)
        return PublishOutcome.ACCEPTED

    def rejects_publish(self, item: QueuedMessage) -> bool:
        """Whether a reject-publish queue refuses ``item`` (classic: it would not fit)."""
        return self.over_limit(1, item.size)

    def requeue(self, items: list[QueuedMessage], now: float, *, explicit: bool = False) -> None:
        """Put unacked messages back at their original positions, marked redelivered.

        As in RabbitMQ, a drop-head queue then sheds heads beyond its limits (observed: a
        requeued message can be dropped straight away when the queue is full).
        ``explicit`` tells a reject/nack/recover from a channel or connection closing.
        """
        self.unacked_count -= len(items)
        if self.deleted:
            return
        for item in items:
            item.redelivered = True
            self.insert_ready(item)
        if self.settings.overflow is Overflow.DROP_HEAD:
            self.drop_heads(now)
        self.expire(now)  # RabbitMQ's requeue_and_run drops expired heads before running

    def drop_heads(self, now: float) -> bool:
        """Dead-letter heads until the queue is within its max-length limits (drop-head);
        whether any was dropped."""
        dropped: list[QueuedMessage] = []
        while self.over_limit():
            head = self._pop_head()
            if head is None:
                break
            dropped.append(head)
        if dropped:
            self.vhost.dead_letter(self, dropped, DeathReason.MAXLEN, now)
        return bool(dropped)

    def settle(self, count: int = 1) -> None:
        """Forget ``count`` acked (or dropped) unacked messages."""
        self.unacked_count -= count

    # ---- consuming --------------------------------------------------------

    def add_consumer(self, consumer: Consumer) -> None:
        """Register a consumer (deliveries start at the next `run`)."""
        self.consumers.append(consumer)
        self._rotation.add(consumer)

    def remove_consumer(self, consumer: Consumer, now: float) -> None:
        """Unregister a consumer; the x-expires lease restarts when the last one goes."""
        self.consumers.remove(consumer)
        self._rotation.remove(consumer)
        if not self.consumers:
            self.last_used = now
            if self.settings.expires is not None:
                self.vhost.timed.add(self)  # its lease runs from now

    def _pick_consumer(self) -> Consumer | None:
        if self.settings.single_active_consumer:
            first = self.consumers[:1]
            return first[0] if first and first[0].channel.consumer_has_capacity(first[0]) else None
        return self._rotation.pick()

    def _deliver(self, consumer: Consumer, item: QueuedMessage) -> None:
        self._rotation.delivered(consumer)
        if not consumer.no_ack:
            consumer.unacked += 1
            self.unacked_count += 1
        consumer.channel.deliver(consumer, self, item)

    def run(self, now: float) -> None:
        """Hand ready messages to consumers with capacity, dropping the expired heads each
        delivery uncovers (and first those a due TTL timer drops)."""
        if self.deleted:
            return
        self.expire_due(now)
        while self._ready_count:
            consumer = self._pick_consumer()
            if consumer is None:
                return
            item = self._pop_head()
            assert item is not None
            self._deliver(consumer, item)
            self.expire(now)

    def get(self, now: float, no_ack: bool) -> QueuedMessage | None:
        """Take the head for basic.get, then drop the expired heads it uncovers (as
        RabbitMQ's fetch does: the get-ok's count already leaves them out). Before it,
        only a due TTL timer drops any (:meth:`expire_due`): RabbitMQ hands out an
        expired head its timer was not set for."""
        self.last_used = now
        self.expire_due(now)
        item = self._pop_head()
        if item is not None:
            if not no_ack:
                self.unacked_count += 1
            self.expire(now)
        return item

    def purge(self) -> int:
        """Drop every ready message (also on deletion); returns how many.

        After a large backlog, the memory its messages fragmented is given back
        (`release_lookup_cache`).
        """
        count = self._ready_count
        self._levels.clear()
        self._priorities = []
        self._ready_count = 0
        self._ready_bytes = 0
        if self._peak_ready >= BACKLOG_RELEASE_THRESHOLD:
            self._peak_ready = 0
            release_lookup_cache()
        return count

    def keep_messages(self, keep: Callable[[QueuedMessage], bool], now: float) -> int:
        """Keep only the ready messages *keep* accepts, in order (a broker restart).

        The x-expires lease restarts at *now*. Returns how many messages were dropped
        (silently: nothing is dead-lettered).
        """
        kept = [item for item in self.ready() if keep(item)]
        dropped = self._ready_count - len(kept)
        self.purge()
        for item in kept:
            self.insert_ready(item)
        self.last_used = now
        if self.settings.expires is not None:
            self.vhost.timed.add(self)
        self.ttl_timer = None  # a new queue process: it drops expired heads as it starts
        self.expire(now)
        return dropped

    def drain_consumers(self) -> list[Consumer]:
        """Detach every consumer (queue deletion); returns them."""
        consumers = list(self.consumers)
        self.consumers.clear()
        self._rotation.clear()
        return consumers
