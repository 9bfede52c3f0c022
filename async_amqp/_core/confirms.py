"""Publisher-confirm bookkeeping for one channel.

After ``confirm.select`` the broker numbers publishes from 1 and acks or
nacks them, alone or with ``multiple`` covering every lower number. Brokers
may coalesce (RabbitMQ often does), so the set of settled numbers is what
counts. A mandatory message that comes back (basic.return, sent before its
ack) is matched to its publish by exchange, routing key and body, the only
things a return carries that identify it.
"""

from __future__ import annotations

from collections import deque
from typing import Any


class _Unconfirmed:
    __slots__ = ("body", "exchange", "returned", "routing_key", "token")

    def __init__(self, token: Any, exchange: str, routing_key: str, body: bytes | None) -> None:
        self.token = token
        self.exchange = exchange
        self.routing_key = routing_key
        self.body = body
        self.returned = False


class ConfirmTracker:
    """Sequence numbers of unconfirmed publishes and who waits for each."""

    __slots__ = ("_mandatory", "_order", "_unconfirmed", "next_delivery_tag")

    def __init__(self) -> None:
        self.next_delivery_tag = 1
        self._unconfirmed: dict[int, _Unconfirmed] = {}
        self._order: deque[int] = deque()
        self._mandatory: deque[int] = deque()

    def __len__(self) -> int:
        return len(self._unconfirmed)

    def published(
        self,
        token: Any,
        *,
        mandatory: bool = False,
        exchange: str = "",
        routing_key: str = "",
        body: bytes | None = None,
    ) -> int:
        """Record a publish just sent; return its delivery tag (sequence number)."""
        delivery_tag = self.next_delivery_tag
        self.next_delivery_tag = delivery_tag + 1
        self._unconfirmed[delivery_tag] = _Unconfirmed(
            token, exchange, routing_key, body if mandatory else None
        )
        self._order.append(delivery_tag)
        if mandatory:
            self._mandatory.append(delivery_tag)
        return delivery_tag

    def settle(self, delivery_tag: int, multiple: bool) -> list[tuple[Any, bool]]:
        """Settle publishes covered by an ack/nack; return ``(token, was_returned)`` pairs.

        Unknown tags are ignored (they were settled already, or the broker is wrong).
        """
        unconfirmed = self._unconfirmed
        settled: list[tuple[Any, bool]] = []
        if not multiple:
            entry = unconfirmed.pop(delivery_tag, None)
            if entry is not None:
                settled.append((entry.token, entry.returned))
            self._trim()
            return settled
        order = self._order
        while order and order[0] <= delivery_tag:
            entry = unconfirmed.pop(order.popleft(), None)
            if entry is not None:
                settled.append((entry.token, entry.returned))
        self._trim()
        return settled

    def _trim(self) -> None:
        unconfirmed = self._unconfirmed
        order = self._order
        while order and order[0] not in unconfirmed:
            order.popleft()
        mandatory = self._mandatory
        while mandatory and (mandatory[0] not in unconfirmed or unconfirmed[mandatory[0]].returned):
            mandatory.popleft()

    def match_return(self, exchange: str, routing_key: str, body: bytes) -> Any:
        """Mark the oldest unreturned mandatory publish matching a return; return its token."""
        unconfirmed = self._unconfirmed
        for delivery_tag in self._mandatory:
            entry = unconfirmed.get(delivery_tag)
            if (
                entry is not None
                and not entry.returned
                and entry.exchange == exchange
                and entry.routing_key == routing_key
                and entry.body == body
            ):
                entry.returned = True
                entry.body = None
                self._trim()
                return entry.token
        return None

    def drain(self) -> list[Any]:
        """Forget every unconfirmed publish (the channel ended); return their tokens."""
        tokens = [entry.token for entry in self._unconfirmed.values()]
        self._unconfirmed.clear()
        self._order.clear()
        self._mandatory.clear()
        return tokens
