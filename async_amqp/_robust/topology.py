"""What a robust connection declared, kept in order so that a new connection can replay it.

Exchanges, queues and bindings belong to the broker, not to a channel, so they
are recorded per connection and replayed on a recovery channel of their own,
before the user's channels re-open and their consumers restart. A server-named
queue is declared again with an empty name and gets a new one; its bindings
follow, and the dict the user got from ``queue_declare`` is updated in place.
Passive declares are checks, not declarations: they are not recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import exceptions

if TYPE_CHECKING:
    from .._channel import Channel
    from .._connection import AmqpProtocol

logger = logging.getLogger("async_amqp.robust")


class DeclaredQueue(dict[str, Any]):
    """The result of a robust ``queue_declare``: ``{'queue', 'message_count', 'consumer_count'}``.

    For a server-named queue, ``['queue']`` (and :attr:`name`) change to the new
    name when a reconnect re-declares it.
    """

    @property
    def name(self) -> str:
        """The queue's current name."""
        return str(self["queue"])


@dataclass(slots=True, frozen=True)
class RecordedExchange:
    """An ``exchange_declare`` to repeat."""

    name: str
    type_name: str
    durable: bool
    auto_delete: bool
    internal: bool
    arguments: dict[str, Any]

    async def replay(self, channel: Channel) -> None:
        """Declare the exchange again."""
        await channel.exchange_declare(
            self.name,
            self.type_name,
            durable=self.durable,
            auto_delete=self.auto_delete,
            arguments=self.arguments,
            internal=self.internal,
        )


@dataclass(slots=True)
class RecordedQueue:
    """A ``queue_declare`` to repeat."""

    name: str
    server_named: bool
    durable: bool
    exclusive: bool
    auto_delete: bool
    arguments: dict[str, Any]
    results: list[DeclaredQueue] = field(default_factory=list)

    async def replay(self, channel: Channel) -> str:
        """Declare the queue again; return its (possibly new) name."""
        declared = await channel.queue_declare(
            "" if self.server_named else self.name,
            durable=self.durable,
            exclusive=self.exclusive,
            auto_delete=self.auto_delete,
            arguments=self.arguments,
        )
        assert declared is not None
        name = str(declared["queue"])
        for result in self.results:
            result["queue"] = name
        self.name = name
        return name


@dataclass(slots=True)
class RecordedBinding:
    """A ``queue_bind`` (``to_queue``) or ``exchange_bind`` to repeat."""

    to_queue: bool
    destination: str
    source: str
    routing_key: str
    arguments: dict[str, Any]

    def key(self) -> tuple[bool, str, str, str, tuple[tuple[str, str], ...]]:
        """What identifies the binding on the broker."""
        arguments = tuple(sorted((name, repr(value)) for name, value in self.arguments.items()))
        return (self.to_queue, self.destination, self.source, self.routing_key, arguments)

    async def replay(self, channel: Channel) -> None:
        """Bind again."""
        if self.to_queue:
            await channel.queue_bind(
                self.destination, self.source, self.routing_key, arguments=self.arguments
            )
        else:
            await channel.exchange_bind(
                self.destination, self.source, self.routing_key, arguments=self.arguments
            )


Recorded = RecordedExchange | RecordedQueue | RecordedBinding


class Topology:
    """The ordered record of a connection's exchanges, queues and bindings."""

    def __init__(self) -> None:
        self.entries: list[Recorded] = []

    def __len__(self) -> int:
        return len(self.entries)

    # -- recording -------------------------------------------------------------------

    def add_exchange(self, exchange: RecordedExchange) -> None:
        """Record an exchange (a re-declaration replaces the earlier record)."""
        name = exchange.name
        self._drop(lambda entry: isinstance(entry, RecordedExchange) and entry.name == name)
        self.entries.append(exchange)

    def add_queue(self, queue: RecordedQueue) -> None:
        """Record a queue; a re-declaration keeps the first record's place and results."""
        for entry in self.entries:
            if isinstance(entry, RecordedQueue) and entry.name == queue.name:
                entry.results.extend(queue.results)
                entry.durable, entry.exclusive = queue.durable, queue.exclusive
                entry.auto_delete, entry.arguments = queue.auto_delete, queue.arguments
                return
        self.entries.append(queue)

    def add_binding(self, binding: RecordedBinding) -> None:
        """Record a binding (once)."""
        key = binding.key()
        if not any(isinstance(e, RecordedBinding) and e.key() == key for e in self.entries):
            self.entries.append(binding)

    def remove_binding(self, binding: RecordedBinding) -> None:
        """Forget a binding (unbind)."""
        key = binding.key()
        self._drop(lambda entry: isinstance(entry, RecordedBinding) and entry.key() == key)

    def remove_queue(self, name: str) -> None:
        """Forget a queue and the bindings to it (queue deleted)."""
        self._drop(
            lambda entry: (
                (isinstance(entry, RecordedQueue) and entry.name == name)
                or (
                    isinstance(entry, RecordedBinding)
                    and entry.to_queue
                    and entry.destination == name
                )
            )
        )

    def remove_exchange(self, name: str) -> None:
        """Forget an exchange and the bindings from or to it (exchange deleted)."""
        self._drop(
            lambda entry: (
                (isinstance(entry, RecordedExchange) and entry.name == name)
                or (
                    isinstance(entry, RecordedBinding)
                    and (entry.source == name or (not entry.to_queue and entry.destination == name))
                )
            )
        )

    def queue(self, name: str) -> RecordedQueue | None:
        """The record of queue *name*, if any."""
        for entry in self.entries:
            if isinstance(entry, RecordedQueue) and entry.name == name:
                return entry
        return None

    def _drop(self, matches: Any) -> None:
        self.entries = [entry for entry in self.entries if not matches(entry)]

    # -- replaying -------------------------------------------------------------------

    async def replay(self, protocol: AmqpProtocol) -> tuple[dict[str, str], list[BaseException]]:
        """Declare everything again, in order; return renamed queues and what failed.

        A refusal (a channel error) is logged and reported, and the replay goes on
        with the next entry on a fresh channel; connection errors propagate.
        """
        renamed: dict[str, str] = {}
        failures: list[BaseException] = []
        channel = await protocol.channel()
        try:
            for entry in list(self.entries):
                if isinstance(entry, RecordedBinding):
                    entry.destination = renamed.get(entry.destination, entry.destination)
                    if not entry.to_queue:
                        entry.source = renamed.get(entry.source, entry.source)
                try:
                    if isinstance(entry, RecordedQueue):
                        old = entry.name
                        new = await entry.replay(channel)
                        if new != old:
                            renamed[old] = new
                            logger.info("server-named queue %r is now %r", old, new)
                    else:
                        await entry.replay(channel)
                    logger.debug("recovered %r", entry)
                except exceptions.ChannelClosedError as error:
                    logger.warning("could not recover %r: %s", entry, error)
                    failures.append(error)
                    channel = await protocol.channel()
        finally:
            if channel.is_open:
                await channel.close()
        return renamed, failures
