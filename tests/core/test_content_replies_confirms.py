"""Content assembly, reply matching and confirm bookkeeping, without an event loop."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamqp import commands

from async_amqp._core.confirms import ConfirmTracker
from async_amqp._core.content import ContentAssembler
from async_amqp._core.errors import UnexpectedFrameError
from async_amqp._core.heartbeat import HeartbeatAction, HeartbeatClock
from async_amqp._core.replies import ReplyQueue, UnexpectedReplyError
from async_amqp._core.wire import EMPTY_PROPERTIES


def header(body_size: int, class_id: int = 60) -> bytes:
    return struct.pack(">HHQ", class_id, 0, body_size) + EMPTY_PROPERTIES


def test_assembles_a_body_split_over_frames() -> None:
    assembler = ContentAssembler()
    publish = commands.Basic.Publish(exchange="x", routing_key="k")
    assembler.start(publish)
    assert assembler.on_header(header(6)) is False
    assert assembler.on_body(b"abc") is False
    assert assembler.on_body(b"def") is True
    method, properties, body = assembler.finish()
    assert (method, properties, body) == (publish, EMPTY_PROPERTIES, b"abcdef")
    assert not assembler.expecting_content


def test_empty_body_is_complete_at_the_header() -> None:
    assembler = ContentAssembler()
    assembler.start(commands.Basic.Publish())
    assert assembler.on_header(header(0)) is True
    assert assembler.finish()[2] == b""


def test_header_without_a_content_method() -> None:
    with pytest.raises(UnexpectedFrameError) as caught:
        ContentAssembler().on_header(header(1))
    assert caught.value.reply_text == (
        "UNEXPECTED_FRAME - expected method frame, got non method frame instead"
    )
    assert (caught.value.class_id, caught.value.method_id) == (0, 0)


def test_method_instead_of_content_header() -> None:
    assembler = ContentAssembler()
    assembler.start(commands.Basic.Publish())
    with pytest.raises(UnexpectedFrameError) as caught:
        assembler.check_method_allowed()
    assert caught.value.reply_text == (
        "UNEXPECTED_FRAME - expected content header for class 60, "
        "got non content header frame instead"
    )
    assert (caught.value.class_id, caught.value.method_id) == (60, 40)


def test_content_header_of_the_wrong_class() -> None:
    assembler = ContentAssembler()
    assembler.start(commands.Basic.Publish())
    with pytest.raises(UnexpectedFrameError) as caught:
        assembler.on_header(header(1, class_id=50))
    assert caught.value.reply_text == (
        "UNEXPECTED_FRAME - expected content header for class 60, got one for class 50 instead"
    )


def test_body_longer_than_announced_keeps_waiting_then_fails_on_next_method() -> None:
    assembler = ContentAssembler()
    assembler.start(commands.Basic.Publish())
    assembler.on_header(header(2))
    assert assembler.on_body(b"abc") is False
    with pytest.raises(UnexpectedFrameError) as caught:
        assembler.check_method_allowed()
    assert caught.value.reply_text == (
        "UNEXPECTED_FRAME - expected content body, got non content body frame instead"
    )


def test_replies_match_first_in_first_out() -> None:
    replies = ReplyQueue()
    declare = replies.expect(commands.Queue.Declare, "w1")
    get = replies.expect(commands.Basic.Get, "w2")
    assert replies.match(commands.Queue.DeclareOk("q")) is declare
    assert replies.match(commands.Basic.GetEmpty()) is get
    assert len(replies) == 0


def test_an_abandoned_slot_still_consumes_its_reply() -> None:
    replies = ReplyQueue()
    first = replies.expect(commands.Queue.Declare)
    second = replies.expect(commands.Queue.Declare)
    first.abandoned = True
    assert replies.match(commands.Queue.DeclareOk("a")) is first
    assert replies.match(commands.Queue.DeclareOk("b")) is second


def test_a_reply_for_another_request_is_an_error() -> None:
    replies = ReplyQueue()
    replies.expect(commands.Queue.Declare)
    with pytest.raises(UnexpectedReplyError, match=r"Queue\.DeclareOk"):
        replies.match(commands.Exchange.DeclareOk())
    with pytest.raises(UnexpectedReplyError, match="no request"):
        ReplyQueue().match(commands.Exchange.DeclareOk())


def test_drain_returns_everything_pending() -> None:
    replies = ReplyQueue()
    slots = [replies.expect(commands.Basic.Qos), replies.expect(commands.Basic.Recover)]
    assert replies.drain() == slots
    assert len(replies) == 0


def test_confirms_single_and_multiple() -> None:
    tracker = ConfirmTracker()
    tags = [tracker.published(f"t{i}") for i in range(1, 6)]
    assert tags == [1, 2, 3, 4, 5]
    assert tracker.settle(2, multiple=False) == [("t2", False)]
    assert tracker.settle(4, multiple=True) == [("t1", False), ("t3", False), ("t4", False)]
    assert tracker.settle(4, multiple=True) == []
    assert tracker.settle(5, multiple=False) == [("t5", False)]
    assert len(tracker) == 0


@given(st.lists(st.tuples(st.integers(1, 60), st.booleans()), max_size=40))
def test_every_publish_is_settled_exactly_once(acks: list[tuple[int, bool]]) -> None:
    tracker = ConfirmTracker()
    for index in range(60):
        tracker.published(index + 1)
    settled: list[int] = []
    for delivery_tag, multiple in [*acks, (60, True)]:
        settled.extend(token for token, _ in tracker.settle(delivery_tag, multiple))
    assert sorted(settled) == list(range(1, 61))
    assert len(tracker) == 0


def test_returns_match_the_mandatory_publish_they_belong_to() -> None:
    tracker = ConfirmTracker()
    tracker.published("routed", mandatory=True, exchange="", routing_key="q", body=b"1")
    tracker.published("plain", exchange="", routing_key="nowhere", body=b"2")
    tracker.published("lost", mandatory=True, exchange="", routing_key="nowhere", body=b"3")
    assert tracker.match_return("", "nowhere", b"3") == "lost"
    assert tracker.match_return("", "nowhere", b"3") is None
    assert tracker.settle(3, multiple=True) == [
        ("routed", False),
        ("plain", False),
        ("lost", True),
    ]


def test_heartbeat_clock() -> None:
    clock = HeartbeatClock(10, now=0.0)
    assert clock.poll(4.9) is HeartbeatAction.NOTHING
    assert clock.next_deadline() == 5.0
    assert clock.poll(5.0) is HeartbeatAction.SEND
    clock.sent(5.0)
    clock.received(15.0)
    assert clock.poll(34.9) is HeartbeatAction.SEND
    clock.sent(34.9)
    assert clock.poll(35.0) is HeartbeatAction.TIMED_OUT
    disabled = HeartbeatClock(0, now=0.0)
    assert disabled.poll(1e9) is HeartbeatAction.NOTHING
