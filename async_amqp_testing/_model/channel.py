"""Per-channel broker state and the AMQP methods a channel carries.

A channel owns its consumers, its unacked deliveries (delivery tags count from
1, shared by basic.get and basic.consume), its prefetch limits, its publish
mode (plain, confirm or tx); the declares, binds and deletes (and the "last
declared queue" shorthand) are in :mod:`.channel_topology`. Every
method either returns the synchronous reply's values or raises `AmqpError`.
Deliveries are staged on the connection and reach its outbox only in
`BrokerModel.dispatch`, after the wire side has written the method's reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import declare
from .channel_topology import TopologyChannel
from .delivery import GetResult, PublishMode, Unacked
from .errors import access_refused, not_allowed, not_implemented, precondition_failed
from .events import PublisherAck, PublisherNack, Return
from .fieldtable import to_table
from .message import Message, RawProperties
from .publish import REPLY_PREFIX, REPLY_QUEUE, prepare_publish, with_reply_to
from .queue import Queue
from .queueitems import Consumer, PublishOutcome, QueuedMessage

if TYPE_CHECKING:
    from .connection import ConnectionModel

__all__ = ["ChannelModel", "GetResult", "PublishMode", "Unacked"]


@dataclass(slots=True)
class _TxPublish:
    message: Message
    properties: RawProperties
    routing_keys: tuple[str, ...]
    queue_names: tuple[str, ...]
    mandatory: bool
    reply_key: str | None


class ChannelModel(TopologyChannel):
    """One open channel of a `ConnectionModel`."""

    def __init__(self, connection: ConnectionModel, channel_id: int) -> None:
        super().__init__(connection, channel_id)
        self._confirm_seq = 0
        self._tx_publishes: list[_TxPublish] = []

    # ---- consumers --------------------------------------------------------

    def basic_qos(
        self, prefetch_size: int = 0, prefetch_count: int = 0, global_: bool = False
    ) -> None:
        """basic.qos. :raises AmqpError: 540 for prefetch_size != 0."""
        if prefetch_size != 0:
            raise not_implemented(f"prefetch_size!=0 ({prefetch_size})")
        self.set_prefetch(prefetch_count, global_)

    def basic_consume(
        self,
        queue: str = "",
        consumer_tag: str = "",
        no_local: bool = False,
        no_ack: bool = False,
        exclusive: bool = False,
        arguments: Mapping[str, Any] | None = None,
        nowait: bool = False,
    ) -> str:
        """basic.consume; returns the consumer tag (server-generated for an empty one).

        :raises AmqpError: 530 tag reuse, 404, 405, 403 exclusive use, 406 bad arguments.
        """
        if consumer_tag and consumer_tag in (*self.consumers, self.reply_consumer_tag):
            raise not_allowed(f"attempt to reuse consumer tag '{consumer_tag}'")
        tag = consumer_tag or declare.random_name(self.broker.rng, "amq.ctag-")
        if queue == REPLY_QUEUE:
            return self._consume_replies(tag, no_ack)
        target = self._queue(queue)
        table = to_table(arguments)
        priority = target.consumer_priority(
            table,
            no_ack=no_ack,
            prefetch_count=self.prefetch_count,
            global_prefetch=self.global_prefetch_count,
        )
        if any(c.exclusive for c in target.consumers) or (exclusive and target.consumers):
            raise access_refused(f"{self.vhost.describe_queue(target.name)} in exclusive use")
        consumer = Consumer(
            tag,
            self,
            target,
            no_ack,
            exclusive,
            priority,
            0 if no_ack else self.prefetch_count,
            table,
        )
        self.consumers[tag] = consumer
        target.add_consumer(consumer)
        target.last_used = self._now()
        target.run(self._now())
        return tag

    def _consume_replies(self, tag: str, no_ack: bool) -> str:
        if not no_ack:
            raise precondition_failed("reply consumer cannot acknowledge")
        if self.reply_consumer_tag is not None:
            raise precondition_failed("reply consumer already set")
        self.reply_consumer_tag = tag
        return tag

    def basic_cancel(self, consumer_tag: str) -> None:
        """basic.cancel; unknown tags are fine, unacked deliveries stay ackable."""
        if consumer_tag == self.reply_consumer_tag:
            self.reply_consumer_tag = None
            return
        consumer = self.consumers.pop(consumer_tag, None)
        if consumer is not None:
            self._detach(consumer, run=consumer.queue.runs_after_cancel)

    # ---- get --------------------------------------------------------------

    def basic_get(self, queue: str = "", no_ack: bool = False) -> GetResult | None:
        """basic.get; None means get-empty. Ignores prefetch. :raises AmqpError: 404/405."""
        target = self._queue(queue)
        target.check_get()
        item = target.get(self._now(), no_ack)
        if item is None:
            return None
        tag = self._take_tag()
        if not no_ack:
            self.unacked[tag] = Unacked(tag, target, item, None)
        message = item.message
        return GetResult(
            tag,
            item.redelivered,
            message.exchange,
            message.routing_key,
            target.message_count,
            target.outgoing(item, get=True),
        )

    # ---- publish ----------------------------------------------------------

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        mandatory: bool,
        immediate: bool,
        message: Message,
        properties: RawProperties | None = None,
    ) -> None:
        """basic.publish: route now (or at tx.commit), appending Return/confirm events inline.

        ``message.exchange``/``routing_key`` are taken from the arguments; *properties*
        is the core's view of ``message.raw_properties`` (made here if not given).
        :raises AmqpError: 540 immediate, 404 missing exchange, 403 internal, 406 bad
            properties, 541 for a header table RabbitMQ cannot parse.
        """
        if immediate:
            raise not_implemented("immediate=true")
        target = self.vhost.exchange(exchange)
        if target.internal:
            raise access_refused(
                f"cannot publish to internal {self.vhost.describe_exchange(exchange)}"
            )
        if message.exchange != exchange or message.routing_key != routing_key:
            message = message.routed_as(exchange, routing_key)
        prepared = prepare_publish(message, self.connection.user, properties)
        message, properties = prepared.message, prepared.properties
        if prepared.wants_reply:
            if self.reply_consumer_tag is None:
                raise precondition_failed("fast reply consumer does not exist")
            message, properties = with_reply_to(message, self._reply_key(), properties)
        reply_key = routing_key if exchange == "" and routing_key.startswith(REPLY_PREFIX) else None
        queues = self.vhost.route(target, prepared.routing_keys, prepared.headers)
        if self.mode is PublishMode.TX:
            self._tx_publishes.append(
                _TxPublish(
                    message,
                    properties,
                    prepared.routing_keys,
                    tuple(q.name for q in queues),
                    mandatory,
                    reply_key,
                )
            )
            return
        self._deliver_publish(
            message, properties, prepared.routing_keys, queues, mandatory, reply_key
        )

    def _reply_key(self) -> str:
        if self.reply_key is None:
            self.reply_key = self.broker.register_reply_channel(self)
        return self.reply_key

    def _deliver_publish(
        self,
        message: Message,
        properties: RawProperties,
        routing_keys: tuple[str, ...],
        queues: Iterable[Queue | None],
        mandatory: bool,
        reply_key: str | None,
    ) -> None:
        now = self._now()
        if reply_key is not None:
            replier = self.broker.reply_channel(reply_key)
            if replier is not None:
                replier.deliver_reply(message, reply_key)
        rejected = False
        reached = 0
        for queue in queues:
            if queue is None:
                continue
            reached += 1
            if queue.publish(message, routing_keys, now, properties) is PublishOutcome.REJECTED:
                rejected = True
        if mandatory and not reached:
            self.connection.emit(
                Return(
                    self.channel_id, 312, "NO_ROUTE", message.exchange, message.routing_key, message
                )
            )
        if self.mode is PublishMode.CONFIRM:
            self._confirm_seq += 1
            event_type = PublisherNack if rejected else PublisherAck
            self.connection.emit(event_type(self.channel_id, self._confirm_seq, False))

    # ---- confirm / tx / flow ----------------------------------------------

    def confirm_select(self) -> None:
        """confirm.select (repeatable). :raises AmqpError: 406 on a tx channel."""
        if self.mode is PublishMode.TX:
            raise precondition_failed("cannot switch from tx to confirm mode")
        self.mode = PublishMode.CONFIRM

    def tx_select(self) -> None:
        """tx.select (repeatable). :raises AmqpError: 406 on a confirm channel."""
        if self.mode is PublishMode.CONFIRM:
            raise precondition_failed("cannot switch from confirm to tx mode")
        self.mode = PublishMode.TX

    def tx_commit(self) -> None:
        """tx.commit: deliver buffered publishes (returns inline), then apply buffered acks.

        :raises AmqpError: 406 ``channel is not transactional``.
        """
        if self.mode is not PublishMode.TX:
            raise precondition_failed("channel is not transactional")
        publishes, self._tx_publishes = self._tx_publishes, []
        settles, self._tx_settles = self._tx_settles, []
        queues = self.vhost.queues
        for pending in publishes:
            self._deliver_publish(
                pending.message,
                pending.properties,
                pending.routing_keys,
                [queues.get(name) for name in pending.queue_names],
                pending.mandatory,
                pending.reply_key,
            )
        for kind, entries in settles:
            self._settle(kind, entries)

    def tx_rollback(self) -> None:
        """tx.rollback: drop buffered publishes; buffered acks leave their deliveries unacked.

        :raises AmqpError: 406 ``channel is not transactional``.
        """
        if self.mode is not PublishMode.TX:
            raise precondition_failed("channel is not transactional")
        self._tx_publishes = []
        settles, self._tx_settles = self._tx_settles, []
        for _, entries in settles:
            for entry in entries:
                self.unacked[entry.delivery_tag] = entry
        self.unacked = dict(sorted(self.unacked.items()))

    def flow(self, active: bool) -> bool:
        """channel.flow; returns the active flag for flow-ok. :raises AmqpError: 540 for false."""
        if not active:
            raise not_implemented("active=false")
        return True

    # ---- teardown ---------------------------------------------------------

    def close(self) -> None:
        """Channel closed: requeue every unacked delivery, cancel every consumer."""
        if self.closed:
            return
        self.closed = True
        self._tx_publishes = []
        for _, entries in self._tx_settles:
            for entry in entries:
                self.unacked[entry.delivery_tag] = entry
        self._tx_settles = []
        if self.reply_key is not None:
            self.broker.unregister_reply_channel(self.reply_key)
        self.reply_consumer_tag = None
        consumers = list(self.consumers.values())
        self.consumers.clear()
        # The consumers go first: a requeue must not be handed back to this channel.
        for consumer in consumers:
            self._detach(consumer, run=False)
        collected = list(self.unacked.values())
        self.unacked.clear()
        now = self._now()
        requeues: dict[int, tuple[Queue, list[QueuedMessage]]] = {}
        for entry in collected:
            if entry.consumer is not None:
                entry.consumer.unacked -= 1
            requeues.setdefault(id(entry.queue), (entry.queue, []))[1].append(entry.item)
        for queue, items in requeues.values():
            queue.requeue(items, now)
        self._global_volume = 0
        touched = [*(e.queue for e in collected), *(c.queue for c in consumers)]
        for queue in {id(queue): queue for queue in touched}.values():
            queue.run(now)
