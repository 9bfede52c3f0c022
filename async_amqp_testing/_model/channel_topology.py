"""A channel's topology methods: exchange and queue declare, bind, unbind, purge, delete.

:class:`TopologyChannel` sits between :class:`~.delivery.DeliveryChannel`
(deliveries, acks, consumers' bookkeeping) and
:class:`~.channel.ChannelModel` (consume, get, publish, confirm, tx). It owns
the "last declared queue" shorthand (an empty queue name means the last one
this channel declared) and the exclusive-queue check; the declare rules
themselves are in :mod:`.declare`. Every method returns the reply's values or
raises `AmqpError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import declare
from .delivery import DeliveryChannel
from .errors import not_found
from .exchange import DestinationKind
from .fieldtable import to_table
from .publish import REPLY_PREFIX, REPLY_QUEUE
from .queue import Queue

if TYPE_CHECKING:
    from .connection import ConnectionModel

__all__ = ["TopologyChannel"]


class TopologyChannel(DeliveryChannel):
    """The exchange and queue methods of one open channel."""

    def __init__(self, connection: ConnectionModel, channel_id: int) -> None:
        super().__init__(connection, channel_id)
        self._last_queue: str | None = None

    def _queue_name(self, name: str) -> str:
        if name:
            return name
        if self._last_queue is None:
            raise not_found("no previously declared queue")
        return self._last_queue

    def _queue(self, name: str) -> Queue:
        queue = self.vhost.queue(self._queue_name(name))
        declare.check_exclusive(self.vhost, queue, self.connection)
        return queue

    # ---- exchange ---------------------------------------------------------

    def exchange_declare(
        self,
        name: str,
        type: str = "direct",
        passive: bool = False,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        """exchange.declare. :raises AmqpError: 403/404/406, 503 unknown type."""
        declare.exchange_declare(
            self.vhost,
            name,
            type,
            passive=passive,
            durable=durable,
            auto_delete=auto_delete,
            internal=internal,
            arguments=to_table(arguments),
        )

    def exchange_delete(self, name: str, if_unused: bool = False) -> None:
        """exchange.delete. :raises AmqpError: 403 default/system exchange, 406 in use."""
        declare.exchange_delete(self.vhost, name, if_unused=if_unused)

    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        """exchange.bind. :raises AmqpError: 403 default exchange, 404 missing exchange."""
        declare.bind(
            self.vhost,
            self.connection,
            DestinationKind.EXCHANGE,
            destination,
            source,
            routing_key,
            to_table(arguments),
        )

    def exchange_unbind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        """exchange.unbind (missing bindings are fine). :raises AmqpError: 403 default exchange."""
        declare.unbind(
            self.vhost,
            self.connection,
            DestinationKind.EXCHANGE,
            destination,
            source,
            routing_key,
            to_table(arguments),
        )

    # ---- queue ------------------------------------------------------------

    def queue_declare(
        self,
        name: str = "",
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: Mapping[str, Any] | None = None,
    ) -> tuple[str, int, int]:
        """queue.declare; returns ``(queue_name, message_count, consumer_count)``.

        :raises AmqpError: 403/404/405/406, 540 unsupported queue types.
        """
        if name == REPLY_QUEUE or name.startswith(REPLY_PREFIX):
            return self._declare_reply_queue(name)
        now = self._now()
        queue = declare.queue_declare(
            self.vhost,
            self.connection,
            name,
            passive=passive,
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            arguments=to_table(arguments),
            now=now,
            rng=self.broker.rng,
        )
        if exclusive and queue.exclusive_owner is self.connection:
            self.connection.exclusive_queues[queue.name] = queue
        self._last_queue = queue.name
        queue.expire_due(now)  # RabbitMQ's stat drops nothing; a due TTL timer has fired
        return queue.name, queue.message_count, queue.consumer_count

    def _declare_reply_queue(self, name: str) -> tuple[str, int, int]:
        """Any declare of ``amq.rabbitmq.reply-to``, or of a live reply key, is ``(name, 0, 1)``
        whatever its flags; another ``amq.rabbitmq.reply-to.*`` name is 404, never 403.

        :raises AmqpError: 404 ``no queue``.
        """
        if name != REPLY_QUEUE and self.broker.reply_channel(name) is None:
            self.vhost.queue(name)  # raises 404 (no queue can have this name)
        return name, 0, 1

    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        """queue.bind. :raises AmqpError: 403 default exchange, 404, 405, 406 bad x-match."""
        declare.bind(
            self.vhost,
            self.connection,
            DestinationKind.QUEUE,
            self._queue_name(queue),
            exchange,
            routing_key,
            to_table(arguments),
        )

    def queue_unbind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        """queue.unbind (missing bindings are fine). :raises AmqpError: 403, 404 no last queue."""
        declare.unbind(
            self.vhost,
            self.connection,
            DestinationKind.QUEUE,
            self._queue_name(queue),
            exchange,
            routing_key,
            to_table(arguments),
        )

    def queue_purge(self, queue: str = "") -> int:
        """queue.purge; returns the number of ready messages removed. :raises AmqpError: 404/405."""
        target = self._queue(queue)
        target.check_purge()
        return target.purge()

    def queue_delete(self, queue: str = "", if_unused: bool = False, if_empty: bool = False) -> int:
        """queue.delete; returns the ready count (0 if missing). :raises AmqpError: 405/406."""
        return declare.queue_delete(
            self.vhost,
            self.connection,
            self._queue_name(queue),
            if_unused=if_unused,
            if_empty=if_empty,
        )
