"""Which deliveries of a channel are settled, so that consecutive acks go out as one.

A consumer acknowledging every message sends one basic.ack per delivery. RabbitMQ
handles a basic.ack with ``multiple`` set (every unacknowledged delivery up to its tag)
in about the time of one single ack, so a run of single acks queued together costs the
broker many times what one multiple ack does. When the user acknowledges tag *t* and

* every delivery tag below *t* is already settled: acknowledged, rejected or nacked by
  a frame queued earlier, or delivered with ``no_ack``;
* *t* was delivered to be acknowledged and is not settled yet;
* the last frame waiting for the socket is an ack of ours on the same channel,

then that ack and ours become one ``basic.ack(t, multiple=True)``. The broker settles
exactly what the separate frames would have settled, in the same order relative to
every other frame, with the same outcome for an invalid tag (it is never merged).

:class:`AckTracker` keeps the first two facts per channel; the connection core checks
the third. Some channels stop merging for good: one in a transaction (a rollback makes
acknowledged deliveries unacknowledged again); one that sent basic.recover, an ack or
nack of *everything* (tag 0, ``multiple``) or one naming a tag it has not received yet,
because the broker applies those to what it has delivered when it reads them,
deliveries still on their way to us included, so we cannot tell which tags they
settled; and one whose settled tags stop being contiguous for long (:data:`MAX_GAPS`).
"""

from __future__ import annotations

from pamqp import commands
from pamqp.base import Frame

from .wire import encode_ack

#: Tags settled above the first unsettled one that a tracker keeps before it gives up
#: merging on its channel (a delivery held for a long time while later ones are acked).
MAX_GAPS = 4096


class AckTracker:
    """The delivery tags of one channel: which were delivered and which are settled."""

    __slots__ = ("_above", "delivered_max", "enabled", "settled_through")

    def __init__(self) -> None:
        #: every tag up to this one is settled
        self.settled_through = 0
        #: the highest tag delivered on the channel
        self.delivered_max = 0
        #: settled tags above :attr:`settled_through` + 1 (out-of-order settlement)
        self._above: set[int] = set()
        self.enabled = True

    def delivered(self, tag: int, no_ack: bool) -> None:
        """A delivery (basic.deliver or get-ok) arrived; *no_ack*: it is settled already."""
        if tag > self.delivered_max:
            self.delivered_max = tag
        if no_ack:
            if tag == self.settled_through + 1:
                self.settled_through = tag
                if self._above:
                    self._advance()
            elif tag > self.settled_through:
                self._remember(tag)

    def settle_one(self, tag: int) -> bool:
        """A single ack, nack or reject of *tag* was queued.

        Returns True when every tag up to *tag* is settled now and *tag* itself was the
        first unsettled delivery: an ack of it may merge with the ack queued before it.
        """
        if tag > self.delivered_max:
            self.disable()  # not delivered yet: the broker may have sent it already
            return False
        if tag <= self.settled_through:
            return False  # settled already: the broker will refuse it
        if tag == self.settled_through + 1:
            self.settled_through = tag
            if self._above:
                self._advance()
            return self.enabled
        self._remember(tag)
        return False

    def settle_up_to(self, tag: int) -> None:
        """A ``multiple`` ack or nack of *tag* (0: everything delivered) was queued."""
        if tag == 0 or tag > self.delivered_max:
            self.disable()  # it covers deliveries we have not seen yet
            return
        if self.settled_through < tag <= self.delivered_max:
            self.settled_through = tag
            self._above = {above for above in self._above if above > tag}
            self._advance()

    def disable(self) -> None:
        """Never merge on this channel again (see the module for when)."""
        self.enabled = False
        self._above.clear()

    def _remember(self, tag: int) -> None:
        above = self._above
        if len(above) >= MAX_GAPS:
            self.disable()
            return
        if self.enabled:
            above.add(tag)

    def _advance(self) -> None:
        above = self._above
        settled = self.settled_through
        while settled + 1 in above:
            settled += 1
            above.discard(settled)
        self.settled_through = settled


class AckQueue:
    """Queues a connection's basic.ack frames, merging consecutive ones (see the module).

    It remembers the last ack frame it queued, by identity: when that frame is still
    the last one waiting for the socket, nothing was queued after it.
    """

    __slots__ = ("_last", "_last_channel")

    def __init__(self) -> None:
        self._last: bytes | None = None
        self._last_channel = 0

    def queue(
        self,
        outgoing: list[bytes | memoryview],
        tracker: AckTracker,
        channel_id: int,
        tag: int,
        multiple: bool,
    ) -> None:
        """Queue basic.ack of *tag* on *channel_id*, merged with the one before if it may be."""
        if multiple:
            outgoing.append(encode_ack(channel_id, tag, True))
            tracker.settle_up_to(tag)
            self._last = None
            return
        if not tracker.settle_one(tag):
            outgoing.append(encode_ack(channel_id, tag, False))
            self._last = None
            return
        # tag was the first unsettled delivery: the ack queued last (if it still is) was
        # of an earlier one, and every tag up to this one is settled now
        last = self._last
        if (
            last is not None
            and outgoing
            and outgoing[-1] is last
            and self._last_channel == channel_id
        ):
            self._last = outgoing[-1] = encode_ack(channel_id, tag, True)
            return
        self._last = frame = encode_ack(channel_id, tag, False)
        outgoing.append(frame)
        self._last_channel = channel_id


def note_settling(tracker: AckTracker, method: Frame) -> None:
    """Record what a method other than basic.ack, sent on the tracker's channel, settles."""
    if isinstance(method, commands.Basic.Reject):
        tracker.settle_one(method.delivery_tag or 0)
    elif isinstance(method, (commands.Basic.Nack, commands.Basic.Ack)):
        if method.multiple:
            tracker.settle_up_to(method.delivery_tag or 0)
        else:
            tracker.settle_one(method.delivery_tag or 0)
    elif isinstance(
        method, (commands.Basic.Recover, commands.Basic.RecoverAsync, commands.Tx.Select)
    ):
        tracker.disable()
