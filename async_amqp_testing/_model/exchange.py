"""Exchanges and bindings.

An exchange holds the bindings it is the source of and answers "which
destinations does this publish reach directly"; following exchange-to-exchange
bindings and alternate exchanges is the vhost's job, since it needs every
exchange.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from .fieldtable import FieldValue, Table, encode_table
from .routeindex import HeadersIndex, TopicTrie
from .routing import ExchangeType

__all__ = ["Binding", "DestinationKind", "Exchange"]


class DestinationKind(Enum):
    """What a binding points at."""

    QUEUE = "queue"
    EXCHANGE = "exchange"


@dataclass(frozen=True, slots=True)
class Binding:
    """A binding from a source exchange to a queue or exchange."""

    source: str
    destination_kind: DestinationKind
    destination: str
    routing_key: str
    arguments: Table = field(compare=False, hash=False)
    # Bindings are equal when their arguments are byte-for-byte equal (types included).
    arguments_key: bytes = b""

    @classmethod
    def create(
        cls,
        source: str,
        kind: DestinationKind,
        destination: str,
        routing_key: str,
        arguments: Table,
    ) -> Binding:
        """Build a binding whose identity includes its sorted, typed arguments."""
        key = encode_table(dict(sorted(arguments.items())))
        return cls(source, kind, destination, routing_key, arguments, key)


class Exchange:
    """One exchange and the bindings it is the source of."""

    def __init__(
        self,
        name: str,
        exchange_type: ExchangeType,
        *,
        durable: bool,
        auto_delete: bool,
        internal: bool,
        arguments: Table,
        alternate: str | None,
    ) -> None:
        self.name = name
        self.type = exchange_type
        self.durable = durable
        self.auto_delete = auto_delete
        self.internal = internal
        self.arguments = arguments
        self.alternate = alternate
        self.bindings: dict[Binding, None] = {}
        self._by_key: dict[str, dict[Binding, None]] = {}
        self._topics = TopicTrie() if exchange_type is ExchangeType.TOPIC else None
        self._headers = HeadersIndex() if exchange_type is ExchangeType.HEADERS else None
        self._added = 0  # bindings ever added: their order numbers

    def add_binding(self, binding: Binding) -> None:
        """Add a binding; binding twice is a no-op."""
        if binding in self.bindings:
            return
        self.bindings[binding] = None
        self._by_key.setdefault(binding.routing_key, {})[binding] = None
        self._added += 1
        if self._topics is not None:
            self._topics.add(binding, self._added)
        elif self._headers is not None:
            self._headers.add(binding, self._added)

    def remove_binding(self, binding: Binding) -> bool:
        """Remove a binding; returns whether it existed."""
        if binding not in self.bindings:
            return False
        del self.bindings[binding]
        same_key = self._by_key[binding.routing_key]
        del same_key[binding]
        if not same_key:
            del self._by_key[binding.routing_key]
        if self._topics is not None:
            self._topics.remove(binding)
        elif self._headers is not None:
            self._headers.remove(binding)
        return True

    def match(
        self, routing_keys: Sequence[str], headers: Sequence[tuple[bytes, FieldValue]] | None
    ) -> list[Binding]:
        """The bindings this publish matches (each binding at most once; do not mutate).

        Topic and headers bindings come in the order they were added; neither
        their lookup nor their matching scans the exchange's other bindings.
        """
        if self.type is ExchangeType.FANOUT:
            return list(self.bindings)
        if self.type is ExchangeType.DIRECT:
            found: dict[Binding, None] = {}
            for key in routing_keys:
                found.update(self._by_key.get(key, {}))
            return list(found)
        found_in_order: dict[Binding, int] = {}
        if self._topics is not None:
            if len(routing_keys) == 1:
                return self._topics.match(routing_keys[0])
            for key in routing_keys:
                self._topics.collect(key, found_in_order)
        elif self._headers is not None:
            self._headers.match(headers, found_in_order)
        return sorted(found_in_order, key=found_in_order.__getitem__)
