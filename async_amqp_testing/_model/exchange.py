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
from .routing import ExchangeType, headers_match, topic_match

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

    def add_binding(self, binding: Binding) -> None:
        """Add a binding; binding twice is a no-op."""
        self.bindings[binding] = None
        self._by_key.setdefault(binding.routing_key, {})[binding] = None

    def remove_binding(self, binding: Binding) -> bool:
        """Remove a binding; returns whether it existed."""
        if binding not in self.bindings:
            return False
        del self.bindings[binding]
        same_key = self._by_key[binding.routing_key]
        del same_key[binding]
        if not same_key:
            del self._by_key[binding.routing_key]
        return True

    def match(
        self, routing_keys: Sequence[str], headers: Sequence[tuple[bytes, FieldValue]] | None
    ) -> list[Binding]:
        """The bindings this publish matches (each binding at most once)."""
        if self.type is ExchangeType.FANOUT:
            return list(self.bindings)
        if self.type is ExchangeType.DIRECT:
            found: dict[Binding, None] = {}
            for key in routing_keys:
                found.update(self._by_key.get(key, {}))
            return list(found)
        if self.type is ExchangeType.TOPIC:
            return [
                b for b in self.bindings if any(topic_match(b.routing_key, k) for k in routing_keys)
            ]
        return [b for b in self.bindings if headers_match(b.arguments, headers)]
