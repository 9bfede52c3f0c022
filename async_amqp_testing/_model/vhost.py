"""A virtual host: its exchanges, queues and bindings, and routing between them.

The vhost is where entities refer to one another: routing follows
exchange-to-exchange bindings and alternate exchanges; deleting a queue or an
exchange removes the bindings that point at it, which may auto-delete source
exchanges in turn; dead-lettering republishes through another exchange.
Channels call in here for everything that is not per-channel state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .deadletter import dead_letter_message, is_cycle
from .errors import not_found, precondition_failed
from .exchange import Binding, DestinationKind, Exchange
from .fieldtable import FieldValue
from .message import Message, RawProperties
from .queue import Queue
from .queueitems import DeathReason, QueuedMessage
from .routing import ExchangeType

if TYPE_CHECKING:
    from .broker import BrokerModel

__all__ = ["BUILTIN_EXCHANGES", "Vhost"]

BUILTIN_EXCHANGES: tuple[tuple[str, ExchangeType, bool], ...] = (
    ("amq.direct", ExchangeType.DIRECT, False),
    ("amq.fanout", ExchangeType.FANOUT, False),
    ("amq.topic", ExchangeType.TOPIC, False),
    ("amq.headers", ExchangeType.HEADERS, False),
    ("amq.match", ExchangeType.HEADERS, False),
    ("amq.rabbitmq.trace", ExchangeType.TOPIC, True),
)


class Vhost:
    """One virtual host."""

    def __init__(self, broker: BrokerModel, name: str) -> None:
        self.broker = broker
        self.name = name
        self.default_exchange = Exchange(
            "",
            ExchangeType.DIRECT,
            durable=True,
            auto_delete=False,
            internal=False,
            arguments={},
            alternate=None,
        )
        self.exchanges: dict[str, Exchange] = {}
        self.queues: dict[str, Queue] = {}
        #: queues that may have a deadline (a message that expires, or x-expires without
        #: consumers): all the broker's next_deadline looks at, which drops those with none
        self.timed: set[Queue] = set()
        # Bindings by destination, so deleting a queue or exchange finds them.
        self._inbound: dict[tuple[DestinationKind, str], dict[Binding, None]] = {}
        for name_, type_, internal in BUILTIN_EXCHANGES:
            self.exchanges[name_] = Exchange(
                name_,
                type_,
                durable=True,
                auto_delete=False,
                internal=internal,
                arguments={},
                alternate=None,
            )

    # ---- naming -----------------------------------------------------------

    def describe_queue(self, name: str) -> str:
        """``queue 'Q' in vhost 'V'`` as RabbitMQ's texts say it."""
        return f"queue '{name}' in vhost '{self.name}'"

    def describe_exchange(self, name: str) -> str:
        """``exchange 'X' in vhost 'V'`` as RabbitMQ's texts say it."""
        return f"exchange '{name}' in vhost '{self.name}'"

    # ---- lookup -----------------------------------------------------------

    def find_exchange(self, name: str) -> Exchange | None:
        """The exchange named ``name`` (``""`` is the default exchange), or None."""
        return self.default_exchange if name == "" else self.exchanges.get(name)

    def exchange(self, name: str) -> Exchange:
        """The exchange named ``name``.

        :raises AmqpError: 404 ``no exchange``.
        """
        found = self.find_exchange(name)
        if found is None:
            raise not_found(f"no {self.describe_exchange(name)}")
        return found

    def queue(self, name: str) -> Queue:
        """The queue named ``name``.

        :raises AmqpError: 404 ``no queue``.
        """
        found = self.queues.get(name)
        if found is None:
            raise not_found(f"no {self.describe_queue(name)}")
        return found

    # ---- bindings ---------------------------------------------------------

    def add_binding(self, binding: Binding) -> None:
        """Record a binding (idempotent)."""
        self.exchange(binding.source).add_binding(binding)
        key = (binding.destination_kind, binding.destination)
        self._inbound.setdefault(key, {})[binding] = None

    def remove_binding(self, binding: Binding, *, auto_delete: bool = True) -> None:
        """Remove a binding if present, auto-deleting its source when it was the last.

        :param auto_delete: ``False`` keeps an auto-delete source that lost its last binding
            (a broker restart drops bindings without deleting their sources)
        """
        source = self.find_exchange(binding.source)
        if source is None or not source.remove_binding(binding):
            return
        inbound = self._inbound.get((binding.destination_kind, binding.destination))
        if inbound is not None:
            inbound.pop(binding, None)
            if not inbound:
                del self._inbound[(binding.destination_kind, binding.destination)]
        if (
            auto_delete
            and source.auto_delete
            and not source.bindings
            and source.name in self.exchanges
        ):
            self._remove_exchange(source)

    # ---- deletion ---------------------------------------------------------

    def check_exchange_deletable(self, exchange: Exchange, if_unused: bool) -> None:
        """Refuse deleting, with if_unused, an exchange that is a binding source.

        (``amq.*`` names are refused by name before the lookup: `declare.exchange_delete`.)

        :raises AmqpError: 406 ``in use``.
        """
        if if_unused and exchange.bindings:
            raise precondition_failed(f"{self.describe_exchange(exchange.name)} in use")

    def _remove_exchange(self, exchange: Exchange) -> None:
        del self.exchanges[exchange.name]
        for binding in list(exchange.bindings):
            self.remove_binding(binding)
        for binding in list(self._inbound.get((DestinationKind.EXCHANGE, exchange.name), {})):
            self.remove_binding(binding)

    def delete_exchange(self, exchange: Exchange) -> None:
        """Delete an exchange and every binding it is part of."""
        if exchange.name in self.exchanges:
            self._remove_exchange(exchange)

    def restart_queue(self, queue: Queue, now: float) -> None:
        """A classic queue's process crashed: it restarts empty under the same declaration.

        Its ready messages are lost (not dead-lettered), its consumers are cancelled
        (notified if they asked), and its unacked deliveries are forgotten: settling them
        later does nothing. Its bindings stay.
        """
        queue.deleted = True
        queue.purge()
        for consumer in queue.drain_consumers():
            consumer.channel.server_cancel(consumer)
        self.queues[queue.name] = type(queue)(
            self,
            queue.name,
            durable=queue.durable,
            exclusive_owner=queue.exclusive_owner,
            auto_delete=queue.auto_delete,
            arguments=queue.arguments,
            settings=queue.settings,
            now=now,
        )

    def delete_queue(self, queue: Queue) -> int:
        """Delete a queue: cancel its consumers, drop its bindings and ready messages.

        Returns the number of ready messages it held.
        """
        if queue.deleted:
            return 0
        queue.deleted = True
        del self.queues[queue.name]
        count = queue.purge()
        for consumer in queue.drain_consumers():
            consumer.channel.server_cancel(consumer)
        for binding in list(self._inbound.get((DestinationKind.QUEUE, queue.name), {})):
            self.remove_binding(binding)
        return count

    # ---- routing ----------------------------------------------------------

    def route(
        self,
        exchange: Exchange,
        routing_keys: Sequence[str],
        headers: Sequence[tuple[bytes, FieldValue]] | None,
    ) -> list[Queue]:
        """Every queue a publish reaches, once each, following E2E bindings and AEs."""
        if exchange is self.default_exchange:
            if len(routing_keys) == 1:
                queue = self.queues.get(routing_keys[0])
                return [] if queue is None else [queue]
            return [self.queues[k] for k in dict.fromkeys(routing_keys) if k in self.queues]
        found: dict[str, Queue] = {}
        seen: set[str] = set()
        worklist = [exchange]
        while worklist:
            current = worklist.pop(0)
            if current.name in seen:
                continue
            seen.add(current.name)
            bindings = current.match(routing_keys, headers)
            if not bindings and current.alternate is not None:
                alternate = self.find_exchange(current.alternate)
                if alternate is not None:
                    worklist.append(alternate)
                continue
            for binding in bindings:
                if binding.destination_kind is DestinationKind.QUEUE:
                    queue = self.queues.get(binding.destination)
                    if queue is not None:
                        found.setdefault(queue.name, queue)
                else:
                    target = self.exchanges.get(binding.destination)
                    if target is not None:
                        worklist.append(target)
        return list(found.values())

    # ---- dead-lettering ---------------------------------------------------

    def dead_letter(
        self, queue: Queue, items: Sequence[QueuedMessage], reason: DeathReason, now: float
    ) -> None:
        """Republish messages to the queue's dead-letter exchange (if it exists)."""
        dlx_name = queue.settings.dead_letter_exchange
        if dlx_name is None:
            return
        dlx = self.find_exchange(dlx_name)
        if dlx is None:
            return
        time = int(self.broker.system_time())
        for item in items:
            message, keys, properties = dead_letter_message(
                item.message,
                routing_keys=item.routing_keys,
                queue=queue.name,
                reason=reason.value,
                dead_letter_exchange=dlx_name,
                dead_letter_routing_key=queue.settings.dead_letter_routing_key,
                time=time,
            )
            headers = properties.header_entries()
            for target in self.route(dlx, keys, headers):
                if reason is not DeathReason.REJECTED and is_cycle(target.name, properties):
                    continue
                target.publish(message, keys, now, properties)

    # ---- timers -----------------------------------------------------------

    def run_timers(self, now: float) -> None:
        """Expire due messages at queue heads and delete queues whose x-expires ran out."""
        for queue in list(self.queues.values()):
            if queue.is_expired(now):
                self.delete_queue(queue)
            else:
                queue.run(now)

    def publish_internal(self, message: Message, routing_keys: Sequence[str], now: float) -> None:
        """Route a message the broker itself publishes (no confirms, no returns)."""
        exchange = self.exchange(message.exchange)
        properties = RawProperties(message.raw_properties)
        headers = properties.header_entries()
        for queue in self.route(exchange, routing_keys, headers):
            queue.publish(message, tuple(routing_keys), now, properties)
