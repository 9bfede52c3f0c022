"""Consecutive acks merge into one ``multiple`` ack, and the broker settles the same.

The property test drives :class:`AckQueue` and :class:`AckTracker` with random
deliveries (to be acknowledged or ``no_ack``), acks, nacks, rejects (of delivered,
settled and never delivered tags), basic.recover, tx.select and flushes, and runs two
frame streams through a model of RabbitMQ's channel (``rabbit_channel:collect_acks``):
the frames the user asked for, one per call, and the frames the queue actually sends.
Both must settle every delivery the same way and fail (406, unknown delivery tag) at
the same point.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st
from pamqp import commands
from pamqp.base import Frame

from async_amqp._core.acks import MAX_GAPS, AckQueue, AckTracker, note_settling
from async_amqp._core.wire import decode_method, encode_ack, encode_method

CHANNEL = 1


@dataclass
class BrokerChannel:
    """RabbitMQ's view of one channel: its unacknowledged deliveries and their fates."""

    unacked: list[int] = field(default_factory=list)
    fate: dict[int, str] = field(default_factory=dict)
    failed: str | None = None

    def deliver(self, tag: int, no_ack: bool) -> None:
        if self.failed is None and not no_ack:
            self.unacked.append(tag)

    def receive(self, frame: bytes) -> None:
        if self.failed is not None:
            return
        method = decode_method(frame[7:-1])
        if isinstance(method, commands.Basic.Recover):
            for tag in self.unacked:
                self.fate[tag] = "requeued by recover"
            self.unacked.clear()
        elif isinstance(method, commands.Tx.Select):
            pass
        elif isinstance(method, (commands.Basic.Ack, commands.Basic.Nack, commands.Basic.Reject)):
            multiple = not isinstance(method, commands.Basic.Reject) and method.multiple
            self._settle(method.name, method.delivery_tag or 0, bool(multiple))
        else:  # pragma: no cover - the test sends nothing else
            raise AssertionError(method)

    def _settle(self, how: str, tag: int, multiple: bool) -> None:
        if multiple and tag == 0:
            settled, self.unacked = self.unacked, []
        elif tag not in self.unacked:
            self.failed = f"406 unknown delivery tag {tag}"
            return
        elif multiple:
            settled = [unacked for unacked in self.unacked if unacked <= tag]
            self.unacked = [unacked for unacked in self.unacked if unacked > tag]
        else:
            settled = [tag]
            self.unacked.remove(tag)
        for each in settled:
            self.fate[each] = how


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("deliver"), st.booleans()),
        st.tuples(st.just("ack"), st.integers(-3, 3)),
        st.tuples(st.just("ack_next"), st.just(0)),
        st.tuples(st.just("ack_multiple"), st.integers(-3, 3)),
        st.tuples(st.just("nack"), st.integers(-3, 3)),
        st.tuples(st.just("nack_multiple"), st.integers(-3, 3)),
        st.tuples(st.just("reject"), st.integers(-3, 3)),
        st.tuples(st.just("recover"), st.just(0)),
        st.tuples(st.just("tx_select"), st.just(0)),
        st.tuples(st.just("flush"), st.just(0)),
    ),
    max_size=80,
)


def other_method(op: str, tag: int) -> Frame:
    """The frame of an op other than an ack."""
    if op == "nack":
        return commands.Basic.Nack(tag, multiple=False)
    if op == "nack_multiple":
        return commands.Basic.Nack(tag, multiple=True)
    if op == "reject":
        return commands.Basic.Reject(tag, requeue=True)
    if op == "recover":
        return commands.Basic.Recover(requeue=True)
    assert op == "tx_select"
    return commands.Tx.Select()


def run(ops: list[tuple[str, int | bool]]) -> tuple[BrokerChannel, BrokerChannel, int, int]:
    """Play *ops*; return the broker's view of (as asked, as sent) and both frame counts."""
    asked, sent = BrokerChannel(), BrokerChannel()
    tracker, queue = AckTracker(), AckQueue()
    outgoing: list[bytes | memoryview] = []
    unsent_asked: list[bytes] = []
    delivered = 0
    counts = [0, 0]
    next_to_ack = 1

    def flush() -> None:
        for each in unsent_asked:
            asked.receive(each)
        for queued in outgoing:
            sent.receive(bytes(queued))
        counts[0] += len(unsent_asked)
        counts[1] += len(outgoing)
        unsent_asked.clear()
        outgoing.clear()

    def tag_for(offset: int) -> int:
        # near the last delivery, so that valid, settled and undelivered tags all occur
        return max(0, delivered + offset) if offset <= 0 else delivered + offset

    for op, argument in ops:
        if op == "deliver":
            delivered += 1
            asked.deliver(delivered, bool(argument))
            sent.deliver(delivered, bool(argument))
            tracker.delivered(delivered, bool(argument))
        elif op in ("ack", "ack_next", "ack_multiple"):
            multiple = op == "ack_multiple"
            tag = next_to_ack if op == "ack_next" else tag_for(int(argument))
            next_to_ack = tag + 1
            unsent_asked.append(encode_ack(CHANNEL, tag, multiple))
            queue.queue(outgoing, tracker, CHANNEL, tag, multiple)
        else:
            if op == "flush":
                flush()
                continue
            method = other_method(op, tag_for(int(argument)))
            frame = encode_method(CHANNEL, method)
            unsent_asked.append(frame)
            outgoing.append(frame)
            note_settling(tracker, method)
    flush()
    return asked, sent, counts[0], counts[1]


@settings(max_examples=1000, deadline=None)
@given(OPS)
# an ack of everything covers deliveries the client had not seen when it sent it
@example([("ack_multiple", 0), ("deliver", False), ("deliver", False), ("ack_next", 0)] * 2)
# a settle of a tag not received yet may reach the broker after that delivery left it
@example([("nack", 1), ("deliver", False), ("deliver", False), ("ack_next", 0), ("ack_next", 0)])
# and basic.recover covers deliveries on their way too
@example(
    [
        ("deliver", False),
        ("recover", 0),
        ("deliver", False),
        ("deliver", False),
        ("ack", -1),
        ("ack", 0),
    ]
)
def test_merged_acks_settle_what_separate_acks_settle(ops: list[tuple[str, int | bool]]) -> None:
    asked, sent, _, _ = run(ops)
    assert sent.failed == asked.failed
    assert sent.fate == asked.fate
    assert sent.unacked == asked.unacked


def test_acks_in_delivery_order_go_out_as_one_frame_per_write() -> None:
    ops: list[tuple[str, int | bool]] = [("deliver", False)] * 100
    ops += [("ack_next", 0)] * 60 + [("flush", 0)] + [("ack_next", 0)] * 40
    asked, sent, asked_frames, sent_frames = run(ops)
    assert (asked_frames, sent_frames) == (100, 2)
    assert sent.fate == asked.fate == {tag: "Basic.Ack" for tag in range(1, 101)}


def test_an_ack_skipping_an_unsettled_delivery_is_sent_alone() -> None:
    ops: list[tuple[str, int | bool]] = [("deliver", False)] * 3
    ops += [("ack", -1), ("ack", 0)]  # tags 2 and 3; tag 1 stays unacknowledged
    asked, sent, asked_frames, sent_frames = run(ops)
    assert (asked_frames, sent_frames) == (2, 2)
    assert sent.unacked == asked.unacked == [1]


def test_no_ack_deliveries_between_acks_do_not_stop_merging() -> None:
    ops: list[tuple[str, int | bool]] = [("deliver", False), ("deliver", True), ("deliver", False)]
    ops += [("ack", -2), ("ack", 0)]  # tags 1 and 3; tag 2 was no_ack
    asked, sent, _, sent_frames = run(ops)
    assert sent_frames == 1
    assert sent.fate == asked.fate == {1: "Basic.Ack", 3: "Basic.Ack"}


def test_an_ack_of_a_no_ack_delivery_is_never_merged() -> None:
    ops: list[tuple[str, int | bool]] = [("deliver", False), ("deliver", True)]
    ops += [("ack", -1), ("ack", 0)]  # tag 2 was no_ack: RabbitMQ refuses its ack
    asked, sent, _, sent_frames = run(ops)
    assert sent_frames == 2
    assert sent.failed == asked.failed == "406 unknown delivery tag 2"
    assert sent.fate == asked.fate == {1: "Basic.Ack"}


def test_acks_after_basic_recover_are_never_merged() -> None:
    # recover made tags 1..3 void: acking them fails on the first, as sent one by one
    ops: list[tuple[str, int | bool]] = [("deliver", False)] * 3 + [("recover", 0)]
    ops += [("ack_next", 0)] * 2
    asked, sent, _, sent_frames = run(ops)
    assert sent_frames == 3
    assert sent.failed == asked.failed == "406 unknown delivery tag 1"


def test_a_transactional_channel_never_merges() -> None:
    ops: list[tuple[str, int | bool]] = [("tx_select", 0)] + [("deliver", False)] * 5
    ops += [("ack_next", 0)] * 5
    _, _, asked_frames, sent_frames = run(ops)
    assert asked_frames == sent_frames == 6


def test_a_tracker_gives_up_after_too_many_out_of_order_settlements() -> None:
    tracker = AckTracker()
    for tag in range(1, MAX_GAPS + 3):
        tracker.delivered(tag, no_ack=False)
    for tag in range(2, MAX_GAPS + 3):
        assert not tracker.settle_one(tag)  # out of order: nothing to merge with
    assert not tracker.enabled
    assert not tracker.settle_one(1)  # next in line, but the tracker no longer merges
    assert tracker.settled_through == 1  # and no longer tracks what lies above


def test_the_merged_frame_is_a_plain_multiple_ack() -> None:
    tracker, queue = AckTracker(), AckQueue()
    outgoing: list[bytes | memoryview] = []
    for tag in (1, 2, 3):
        tracker.delivered(tag, no_ack=False)
        queue.queue(outgoing, tracker, CHANNEL, tag, False)
    assert outgoing == [encode_ack(CHANNEL, 3, True)]
    assert struct.unpack(">BHIHHQB", bytes(outgoing[0])[:-1])[-2:] == (3, 1)
