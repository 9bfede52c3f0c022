"""When a queue drops its expired messages: RabbitMQ's classic queue process, emulated.

A classic queue drops expired heads (TTL) only at a few points: after a fetch (a
basic.get or a delivery), after a requeue, after a publish that leaves its message
alone or dropped heads for max-length, at queue start, and when its TTL timer fires.
That timer is set only where expired heads are dropped, for the head found then. So an
expired message can sit at the head, counted and handed out, when no timer was set for
it (a priority put it first). :class:`QueueExpiry` holds those rules and the timer for
`Queue`; a type that drops expired heads before every read (quorum queues) sets
``lazy_expiry`` to False. See `NOTES.md` ("When expired heads go").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from .queueitems import DeathReason

if TYPE_CHECKING:
    from .arguments import QueueSettings
    from .queue import Queue
    from .queueitems import Consumer, QueuedMessage
    from .vhost import Vhost

__all__ = ["QueueExpiry"]


class QueueExpiry:
    """TTL expiry and x-expires deadlines of a queue (a base of `Queue`)."""

    #: Expired heads are dropped where RabbitMQ's classic queue process drops them, not
    #: before every read of the head (False: before every get, delivery run and declare).
    lazy_expiry = True
    #: When RabbitMQ's queue would next drop expired heads by itself: its TTL timer.
    ttl_timer: float | None = None

    if TYPE_CHECKING:
        vhost: Vhost
        settings: QueueSettings
        consumers: list[Consumer]
        last_used: float
        _ready_count: int

        def _head(self) -> QueuedMessage | None: ...
        def _pop_head(self) -> QueuedMessage | None: ...

    def expires_after_publish(self, item: QueuedMessage, dropped: bool, now: float) -> bool:
        """Whether a publish that queued *item* (and *dropped* heads for max-length) then
        drops expired heads. RabbitMQ's classic queue does only when the head may have
        changed: heads were dropped, or *item* is alone (unless both, and it has no
        expiry). So an expiring message that a priority puts ahead of others waits
        there for the next fetch, requeue or timer."""
        del now
        alone = self._ready_count == 1
        if dropped:
            return not (alone and item.expires_at is None)
        return alone

    def expire(self, now: float) -> None:
        """Drop (or dead-letter) expired messages at the head of the queue.

        Only the head in delivery order counts, also on priority queues (observed: an
        expired low-priority message behind a live high-priority one stays counted).
        """
        expired: list[QueuedMessage] = []
        while True:
            head = self._head()
            if head is None or head.expires_at is None or head.expires_at > now:
                break
            self._pop_head()
            expired.append(head)
        if head is not None and head.expires_at is not None:
            self._arm_ttl_timer(head.expires_at)
        if expired:
            self.vhost.dead_letter(cast("Queue", self), expired, DeathReason.EXPIRED, now)

    def _arm_ttl_timer(self, expiry: float) -> None:
        """RabbitMQ's ``ensure_ttl_timer``: set the timer for the head's expiry unless one
        is set that fires at most a second later."""
        timer = self.ttl_timer
        if timer is None or expiry + 1.0 < timer:
            self.ttl_timer = expiry
            self.vhost.timed.add(cast("Queue", self))

    def expire_due(self, now: float) -> None:
        """Drop expired heads if RabbitMQ would have by now: its TTL timer is due (the
        timer's message is handled before any later request). Without lazy expiry, always.
        """
        if not self.lazy_expiry:
            self.expire(now)
            return
        timer = self.ttl_timer
        if timer is not None and timer <= now:
            self.ttl_timer = None
            self.expire(now)

    def next_deadline(self) -> float | None:
        """When expired heads are next dropped (the TTL timer; without lazy expiry, the
        head's expiry) or x-expires runs out, whichever comes first; ``None``: neither."""
        deadlines: list[float] = []
        if self.lazy_expiry:
            if self.ttl_timer is not None and self._ready_count:  # else it would drop nothing
                deadlines.append(self.ttl_timer)
        else:
            head = self._head()
            if head is not None and head.expires_at is not None:
                deadlines.append(head.expires_at)
        if self.settings.expires is not None and not self.consumers:
            deadlines.append(self.last_used + self.settings.expires / 1000.0)
        return min(deadlines) if deadlines else None

    def is_expired(self, now: float) -> bool:
        """Whether x-expires has run out (no consumers and unused for long enough)."""
        expires = self.settings.expires
        return (
            expires is not None and not self.consumers and now >= self.last_used + expires / 1000.0
        )
