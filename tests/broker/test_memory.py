"""The fake broker's memory: a queued message is stored compactly, and a drained, deleted
backlog gives its memory back to the operating system.

The figures come from ``benchmarks/broker_memory.py`` (run it by hand for the full
report); nothing here depends on timing.
"""

from __future__ import annotations

import sys

import pytest
from pamqp.commands import Basic

from async_amqp_testing._model.message import Message, PropertySlot, property_bytes
from async_amqp_testing._model.queueitems import QueuedMessage
from benchmarks.broker_memory import BODY, Workload, measure_heap, measure_process

#: Bytes a queued 128-byte message may cost beyond its body (Python heap, tracemalloc).
MAX_OVERHEAD = 400
#: How far the broker's RSS may stay above its start after each drained, deleted round.
MAX_RETAINED = 64 << 20


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_queued_message_costs_less_than_400_bytes_beyond_its_body(backend: str) -> None:
    """5000 messages with a content type, persistence, an id, a timestamp and two headers:
    the broker's heap grows by less than 128 + 400 bytes per message while it holds them,
    and shrinks back once they are consumed and the queues deleted."""
    report = measure_heap(Workload(count=5000, properties="typical"), backend=backend)
    assert report.overhead < MAX_OVERHEAD, report.lines()
    assert report.left_after < report.held // 10, report.lines()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads RSS from /proc")
def test_a_drained_deleted_backlog_gives_its_memory_back() -> None:
    """``python -m async_amqp_testing``: two rounds of 100k messages with a rich property
    list, each consumed with acks and its queues deleted; after each round the process's
    RSS is within 64 MiB of where it started."""
    report = measure_process(Workload(count=100_000, properties="rich"), rounds=2)
    for after in report.after:
        assert after - report.start < MAX_RETAINED, report.lines()


def test_a_message_keeps_raw_bytes_and_shares_its_routing_strings() -> None:
    """No decoded properties are stored; they are decoded from the raw list on access."""
    properties = Basic.Properties(content_type="text/plain", priority=7, expiration="60000")
    raw = properties.marshal()
    key = "".join(["orders.", "created"])  # built at run time: not interned by the compiler
    first = Message("amq.topic", key, properties, raw, BODY)
    second = Message("amq.topic", "".join(["orders.", "created"]), None, raw, BODY)
    assert not hasattr(first, "__dict__")
    assert first.routing_key is second.routing_key
    assert first.raw_properties is second.raw_properties  # a short list is shared
    assert first.properties.content_type == "text/plain"
    assert first.properties.priority == 7
    assert first == second
    assert property_bytes(raw, PropertySlot.PRIORITY) == b"\x07"
    assert property_bytes(raw, PropertySlot.EXPIRATION) == b"\x0560000"
    assert property_bytes(raw, PropertySlot.REPLY_TO) is None


def test_a_non_utf8_property_still_decodes_on_inspection() -> None:
    """RabbitMQ keeps non-UTF-8 shortstrs; the lazily decoded view escapes them."""
    raw = b"\x80\x00" + b"\x02\xff\xfe"  # content_type set, value 0xff 0xfe
    message = Message("", "q", None, raw, b"")
    assert message.properties.content_type == "\udcff\udcfe"


def test_a_queued_message_keeps_routing_keys_only_for_cc() -> None:
    message = Message.build("", "q", b"x")
    plain = QueuedMessage(message, ("q",), seq=1, priority=0, expires_at=None)
    copied = QueuedMessage(message, ("q", "cc-1"), seq=2, priority=0, expires_at=None)
    assert plain.routing_keys == ("q",)
    assert copied.routing_keys == ("q", "cc-1")
