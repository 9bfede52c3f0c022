"""Deliveries and acknowledgements: the half of a channel that queues talk to.

Queues hand messages to a channel's consumers through `consumer_has_capacity`
and `deliver`; the channel tracks them as unacked deliveries (tags from 1,
shared by get and consume), enforces per-consumer and channel-global prefetch,
and settles them on ack, nack, reject, recover or close (requeueing at the
original position, or dead-lettering). Acks on a tx channel are buffered here
until commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from .errors import not_implemented, precondition_failed
from .events import CancelNotify, Deliver
from .message import Message
from .queue import Queue
from .queueitems import Consumer, DeathReason, QueuedMessage

if TYPE_CHECKING:
    from .connection import ConnectionModel

__all__ = ["DeliveryChannel", "GetResult", "PublishMode", "Settle", "Unacked"]


class PublishMode(Enum):
    """A channel's publishing mode; confirm and tx exclude each other."""

    PLAIN = "plain"
    CONFIRM = "confirm"
    TX = "tx"


class Settle(Enum):
    ACK = "ack"
    REQUEUE = "requeue"
    DISCARD = "discard"


@dataclass(frozen=True, slots=True)
class GetResult:
    """The values of basic.get-ok plus the message."""

    delivery_tag: int
    redelivered: bool
    exchange: str
    routing_key: str
    message_count: int
    message: Message


@dataclass(eq=False, slots=True)
class Unacked:
    """A delivery awaiting ack; ``consumer`` is None for basic.get."""

    delivery_tag: int
    queue: Queue
    item: QueuedMessage
    consumer: Consumer | None


class DeliveryChannel:
    """Per-channel delivery state; `ChannelModel` adds the AMQP methods."""

    def __init__(self, connection: ConnectionModel, channel_id: int) -> None:
        self.connection = connection
        self.channel_id = channel_id
        self.vhost = connection.vhost
        self.broker = connection.broker
        self.consumers: dict[str, Consumer] = {}
        self.unacked: dict[int, Unacked] = {}
        self.mode = PublishMode.PLAIN
        self.prefetch_count = 0
        self.global_prefetch_count = 0
        self.closed = False
        self._next_delivery_tag = 1
        # RabbitMQ's channel limiter: the deliveries counted against the global prefetch
        # (see `set_prefetch`).
        self._global_volume = 0
        self._tx_settles: list[tuple[Settle, list[Unacked]]] = []
        self.reply_consumer_tag: str | None = None
        self.reply_key: str | None = None

    # ---- helpers ----------------------------------------------------------

    def _now(self) -> float:
        return self.broker.now()

    def _detach(self, consumer: Consumer, *, run: bool) -> None:
        """Remove a consumer from its queue (deleting an auto-delete queue it leaves
        unused); ``run``: then look for deliveries to the queue's other consumers."""
        queue = consumer.queue
        if queue.deleted:
            return
        queue.remove_consumer(consumer, self._now())
        if queue.auto_delete and not queue.consumers:
            self.vhost.delete_queue(queue)
        elif run:
            queue.run(self._now())

    # ConsumerChannel protocol, used by queues.

    def consumer_has_capacity(self, consumer: Consumer) -> bool:
        """Whether prefetch (per-consumer and channel-global) allows another delivery.

        A full global limit holds no-ack consumers back too (they just do not count).
        """
        if self.global_prefetch_count and self._global_volume >= self.global_prefetch_count:
            return False
        return consumer.no_ack or not (
            consumer.prefetch_count and consumer.unacked >= consumer.prefetch_count
        )

    def deliver(self, consumer: Consumer, queue: Queue, item: QueuedMessage) -> None:
        """Assign the next delivery tag and stage a Deliver for the dispatch step."""
        tag = self._take_tag()
        if not consumer.no_ack:
            self.unacked[tag] = Unacked(tag, queue, item, consumer)
            self._global_volume += 1
        message = queue.outgoing(item)
        self.connection.stage(
            Deliver(
                self.channel_id,
                consumer.consumer_tag,
                tag,
                item.redelivered,
                message.exchange,
                message.routing_key,
                message,
            )
        )

    def server_cancel(self, consumer: Consumer) -> None:
        """The queue went away: forget the consumer and notify the client if it asked to be.

        The notification is staged like a delivery: RabbitMQ sends it after the reply of
        the method that caused it (queue.delete-ok first, then basic.cancel).
        """
        self.consumers.pop(consumer.consumer_tag, None)
        if self.connection.consumer_cancel_notify and not self.closed:
            self.connection.stage(CancelNotify(self.channel_id, consumer.consumer_tag))

    def deliver_reply(self, message: Message, routing_key: str) -> None:
        """Stage a direct reply-to delivery to this channel's reply consumer."""
        assert self.reply_consumer_tag is not None
        self.connection.stage(
            Deliver(
                self.channel_id,
                self.reply_consumer_tag,
                self._take_tag(),
                False,
                "",
                routing_key,
                message,
            )
        )

    def set_prefetch(self, prefetch_count: int, global_: bool) -> None:
        """basic.qos as RabbitMQ 3.10's channel applies it to its limiter.

        A global limit set from none starts counting every unacked delivery, basic.get's
        too (whose acks never free a slot); a global 0, and also any per-consumer qos,
        lifts the global limit and forgets the count.
        """
        if not global_:
            self.prefetch_count = prefetch_count
            prefetch_count = 0
        if prefetch_count == 0:
            self._global_volume = 0
        elif self.global_prefetch_count == 0:
            buffered = sum(len(entries) for _, entries in self._tx_settles)
            self._global_volume = len(self.unacked) + buffered
        lifted = prefetch_count == 0 and self.global_prefetch_count != 0
        self.global_prefetch_count = prefetch_count
        if global_ or lifted:
            self._run_consumer_queues()

    def _take_tag(self) -> int:
        tag = self._next_delivery_tag
        self._next_delivery_tag += 1
        return tag

    def _run_consumer_queues(self, already_run: dict[int, Queue] | None = None) -> None:
        """Run the queues this channel consumes from (but those just run: nothing since
        could give them another delivery)."""
        now = self._now()
        for key, queue in {id(c.queue): c.queue for c in self.consumers.values()}.items():
            if already_run is None or key not in already_run:
                queue.run(now)

    # ---- acknowledgements -------------------------------------------------

    def _collect(self, delivery_tag: int, multiple: bool) -> list[Unacked]:
        if multiple and delivery_tag == 0:
            collected = list(self.unacked.values())
            self.unacked.clear()
            return collected
        unacked = self.unacked
        if delivery_tag not in unacked:
            raise precondition_failed(f"unknown delivery tag {delivery_tag}")
        if not multiple:
            collected = [unacked.pop(delivery_tag)]
        else:
            tags = [tag for tag in unacked if tag <= delivery_tag]
            collected = [unacked.pop(tag) for tag in tags]
        if not unacked:
            # A dict keeps its table at its largest size; after a burst of deliveries
            # an empty one would hold on to it for the channel's lifetime.
            self.unacked = {}
        return collected

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        """basic.ack. :raises AmqpError: 406 ``unknown delivery tag N``."""
        self._settle_or_buffer(Settle.ACK, self._collect(delivery_tag, multiple))

    def basic_nack(self, delivery_tag: int, multiple: bool = False, requeue: bool = True) -> None:
        """basic.nack. :raises AmqpError: 406 ``unknown delivery tag N``."""
        kind = Settle.REQUEUE if requeue else Settle.DISCARD
        self._settle_or_buffer(kind, _rejectable(self._collect(delivery_tag, multiple)))

    def basic_reject(self, delivery_tag: int, requeue: bool = True) -> None:
        """basic.reject. :raises AmqpError: 406 ``unknown delivery tag N``."""
        kind = Settle.REQUEUE if requeue else Settle.DISCARD
        self._settle_or_buffer(kind, _rejectable(self._collect(delivery_tag, False)))

    def basic_recover(self, requeue: bool = True) -> None:
        """basic.recover / recover-async. :raises AmqpError: 540 for requeue=false."""
        if not requeue:
            raise not_implemented("requeue=false")
        for entry in self.unacked.values():
            entry.queue.check_recover()
        collected = list(self.unacked.values())
        self.unacked.clear()
        self._settle(Settle.REQUEUE, collected)

    def _settle_or_buffer(self, kind: Settle, entries: list[Unacked]) -> None:
        if self.mode is PublishMode.TX:
            self._tx_settles.append((kind, entries))
        else:
            self._settle(kind, entries)

    def _settle(self, kind: Settle, entries: list[Unacked]) -> None:
        """Settle deliveries the way RabbitMQ's channel does: one step per (queue, consumer)
        group, groups in name and tag order (basic.get's first), each freeing its
        consumer's prefetch and running its queue before the next group is settled; the
        channel-global prefetch is freed after all of them. So a nack of several
        consumers' deliveries redelivers the first consumer's messages before the next
        consumer's, not round-robin.
        """
        now = self._now()
        released = 0
        for group in _settle_groups(entries):
            queue = group[0].queue
            consumer = group[0].consumer
            if consumer is not None:
                consumer.unacked -= len(group)
                released += len(group)
            if kind is Settle.REQUEUE:
                queue.requeue([entry.item for entry in group], now, explicit=True)
            else:
                for entry in group:
                    queue.settle()
                    if kind is Settle.DISCARD and not queue.deleted:
                        self.vhost.dead_letter(queue, [entry.item], DeathReason.REJECTED, now)
                if consumer is None or self.consumers.get(consumer.consumer_tag) is not consumer:
                    continue  # frees no consumer's prefetch: RabbitMQ does not run the queue
            queue.run(now)
        if released and self.global_prefetch_count:
            self._global_volume -= released
            for queue in {id(e.queue): e.queue for e in entries}.values():
                queue.run(now)
            self._run_consumer_queues()


def _settle_groups(entries: list[Unacked]) -> list[list[Unacked]]:
    """Entries grouped by (queue, consumer), ordered as RabbitMQ's channel settles them."""
    if len(entries) == 1:
        return [entries]
    groups: dict[tuple[int, int], list[Unacked]] = {}
    for entry in entries:
        groups.setdefault((id(entry.queue), id(entry.consumer)), []).append(entry)
    return sorted(groups.values(), key=_group_order)


def _group_order(group: list[Unacked]) -> tuple[str, bool, str]:
    consumer = group[0].consumer
    tag = "" if consumer is None else consumer.consumer_tag
    return (group[0].queue.name, consumer is not None, tag)


def _rejectable(entries: list[Unacked]) -> list[Unacked]:
    """The entries of a nack/reject, if every queue they came from allows it.

    :raises AmqpError: a stream's 540.
    """
    for entry in entries:
        entry.queue.check_reject()
    return entries
