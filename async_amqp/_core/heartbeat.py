"""The heartbeat clock: when to send a heartbeat and when the peer is dead.

Time is passed in (``now``, monotonic seconds) so this is testable without a
loop. Like RabbitMQ and its clients, a heartbeat is sent after ``interval / 2``
of not sending anything, and the peer is declared dead after two intervals
without receiving anything.
"""

from __future__ import annotations

import enum
import math


class HeartbeatAction(enum.Enum):
    """What the I/O layer must do now."""

    NOTHING = "nothing"
    SEND = "send"
    TIMED_OUT = "timed_out"


class HeartbeatClock:
    """Tracks traffic in both directions for one connection.

    :param interval: the negotiated heartbeat in seconds; 0 disables heartbeats
    :param now: the current time
    """

    __slots__ = ("interval", "last_received", "last_sent")

    def __init__(self, interval: float, now: float) -> None:
        self.interval = interval
        self.last_received = now
        self.last_sent = now

    def received(self, now: float) -> None:
        """Note that bytes arrived from the peer."""
        self.last_received = now

    def sent(self, now: float) -> None:
        """Note that bytes were written to the peer."""
        self.last_sent = now

    def poll(self, now: float) -> HeartbeatAction:
        """Decide what to do at *now*."""
        if not self.interval:
            return HeartbeatAction.NOTHING
        if now - self.last_received >= 2 * self.interval:
            return HeartbeatAction.TIMED_OUT
        if now - self.last_sent >= self.interval / 2:
            return HeartbeatAction.SEND
        return HeartbeatAction.NOTHING

    def next_deadline(self) -> float:
        """Return the next time :meth:`poll` may have something to do."""
        if not self.interval:
            return math.inf
        return min(self.last_sent + self.interval / 2, self.last_received + 2 * self.interval)
