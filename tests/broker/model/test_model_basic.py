"""basic.* semantics: publish checks, consume, delivery order, prefetch, acks, requeue, get."""

from __future__ import annotations

import re
from collections.abc import Mapping

from hypothesis import given
from hypothesis import strategies as st
from pamqp.commands import Basic

from async_amqp_testing._model import BrokerModel, Deliver, GetResult, Return
from async_amqp_testing._model.fieldtable import typed

from .modelkit import Client, make_message, raises, raw_props_with_headers

V = "in vhost '/'"


def setup_queue(
    client: Client, name: str = "q", arguments: Mapping[str, object] | None = None
) -> None:
    client.channel().queue_declare(name, arguments=arguments)


def test_publish_to_missing_exchange_and_immediate(client: Client) -> None:
    raises(404, f"NOT_FOUND - no exchange 'nope' {V}", client.publish, "nope", "k")
    err = raises(
        540,
        "NOT_IMPLEMENTED - immediate=true",
        client.channel(2).basic_publish,
        "",
        "q",
        False,
        True,
        make_message("", "q", b""),
    )
    assert err.is_connection_error


def test_publish_property_checks(client: Client) -> None:
    setup_queue(client)
    raises(
        406,
        "PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'guest'",
        client.publish,
        "",
        "q",
        properties=Basic.Properties(user_id="bob"),
    )
    client.publish("", "q", channel_id=2, properties=Basic.Properties(user_id="guest"))
    props = Basic.Properties()
    props.delivery_mode = 3
    raises(
        406,
        "PRECONDITION_FAILED - invalid message: {delivery_mode_unknown,3}",
        client.publish,
        "",
        "q",
        channel_id=3,
        properties=props,
    )
    raises(
        406,
        'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}',
        client.publish,
        "",
        "q",
        channel_id=4,
        properties=Basic.Properties(headers={"CC": "x"}),
    )
    raises(
        406,
        'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"BCC",signedint}',
        client.publish,
        "",
        "q",
        channel_id=5,
        raw_properties=raw_props_with_headers([(b"BCC", typed("I", 1))]),
    )


def test_invalid_expiration_texts(client: Client) -> None:
    setup_queue(client)
    cases = [
        ("abc", "invalid expiration 'abc': no_integer"),
        ("", "invalid expiration '': no_integer"),
        (" 100", "invalid expiration ' 100': no_integer"),
        ("-1", "invalid expiration '-1': {value_negative,-1}"),
        ("1.5", "invalid expiration '1.5': {leftover_string,\".5\"}"),
        ("315360000001", "invalid expiration '315360000001': {value_too_large,315360000001}"),
    ]

    for channel_id, (value, detail) in enumerate(cases, start=1):
        raw = raw_props_with_headers([], expiration=value.encode())
        raises(
            406,
            f"PRECONDITION_FAILED - {detail}",
            client.publish,
            "",
            "q",
            channel_id=channel_id,
            raw_properties=raw,
        )


def test_mandatory_return_carries_original_message(client: Client) -> None:
    props = Basic.Properties(content_type="text/plain", headers={"a": 1}, priority=255)
    client.publish("amq.direct", "nowhere", b"body", mandatory=True, properties=props)
    (ret,) = client.events()
    assert isinstance(ret, Return)
    assert (ret.channel_id, ret.reply_code, ret.reply_text) == (1, 312, "NO_ROUTE")
    assert (ret.exchange, ret.routing_key, ret.message.body) == ("amq.direct", "nowhere", b"body")
    assert ret.message.raw_properties == props.marshal()
    client.publish("amq.direct", "nowhere", b"body")
    client.publish("", "no-such-queue", b"body", mandatory=True)
    assert [type(e) for e in client.events()] == [Return]


def test_cc_and_bcc_route_and_bcc_is_removed(client: Client) -> None:
    ch = client.channel()
    for name in ("main", "cc", "bcc"):
        ch.queue_declare(name)

    raw = raw_props_with_headers(
        [
            (b"z", typed("b", 1)),
            (b"BCC", typed("A", [typed("S", "bcc")])),
            (b"CC", typed("A", [typed("S", "cc"), typed("S", "main")])),
            (b"a", typed("S", b"\xff")),
        ]
    )
    client.publish("", "main", raw_properties=raw)
    snapshot = client.broker.snapshot().queues
    assert [q.message_count for q in (snapshot["main"], snapshot["cc"], snapshot["bcc"])] == [
        1,
        1,
        1,
    ]
    expected = raw_props_with_headers(
        [
            (b"z", typed("b", 1)),
            (b"CC", typed("A", [typed("S", "cc"), typed("S", "main")])),
            (b"a", typed("S", b"\xff")),
        ]
    )
    for name in ("main", "cc", "bcc"):
        got = ch.basic_get(name)
        assert got is not None
        assert got.message.raw_properties == expected
        assert got.routing_key == "main"


def test_consume_tags(client: Client) -> None:
    setup_queue(client)
    ch = client.channel()
    tag = ch.basic_consume("q")
    assert re.fullmatch(r"amq\.ctag-[A-Za-z0-9_-]{22}", tag)
    ch.basic_consume("q", "mine")
    client.channel(2).basic_consume("q", "mine")  # same tag on another channel is fine
    err = raises(
        530, "NOT_ALLOWED - attempt to reuse consumer tag 'mine'", ch.basic_consume, "q", "mine"
    )
    assert err.is_connection_error
    nowait_tag = client.channel(3).basic_consume("q", "", nowait=True)
    assert nowait_tag.startswith("amq.ctag-")
    raises(404, f"NOT_FOUND - no queue 'nope' {V}", client.channel(4).basic_consume, "nope")


def test_exclusive_consumer(client: Client) -> None:
    setup_queue(client)
    ch = client.channel()
    ch.basic_consume("q", "a")
    text = f"ACCESS_REFUSED - queue 'q' {V} in exclusive use"
    raises(403, text, client.channel(2).basic_consume, "q", "b", exclusive=True)
    setup_queue(client, "q2")
    client.channel(3).basic_consume("q2", "x", exclusive=True)
    raises(403, text.replace("'q'", "'q2'"), client.channel(4).basic_consume, "q2", "y")
    raises(403, text.replace("'q'", "'q2'"), client.channel(3).basic_consume, "q2", "z")


def test_consumer_priority_argument(client: Client) -> None:
    setup_queue(client)
    raises(
        406,
        f"PRECONDITION_FAILED - invalid arg 'x-priority' for queue 'q' {V}: "
        '"expected integer, got longstr"',
        client.channel().basic_consume,
        "q",
        "c",
        arguments={"x-priority": "1"},
    )
    raises(
        540,
        "NOT_IMPLEMENTED - consumer argument x-credit (credit flow) is not supported",
        client.channel(2).basic_consume,
        "q",
        "c",
        arguments={"x-credit": {"credit": 1}},
    )


def test_fifo_round_robin_and_delivery_fields(client: Client) -> None:
    setup_queue(client)
    ch = client.channel()
    client.call(ch.basic_consume, "q", "a", no_ack=True)
    client.call(ch.basic_consume, "q", "b", no_ack=True)
    for body in (b"1", b"2", b"3", b"4"):
        client.publish("", "q", body)
    deliveries = client.deliveries()
    assert [(d.consumer_tag, d.message.body) for d in deliveries] == [
        ("a", b"1"),
        ("b", b"2"),
        ("a", b"3"),
        ("b", b"4"),
    ]
    assert [d.delivery_tag for d in deliveries] == [1, 2, 3, 4]
    assert all(d.exchange == "" and d.routing_key == "q" and not d.redelivered for d in deliveries)


def test_consumer_priorities(client: Client) -> None:
    setup_queue(client)
    ch = client.channel()
    ch.basic_qos(prefetch_count=1)
    client.call(ch.basic_consume, "q", "low", arguments={"x-priority": 1})
    client.call(ch.basic_consume, "q", "high", arguments={"x-priority": 10})
    for body in (b"1", b"2", b"3"):
        client.publish("", "q", body)
    assert [(d.consumer_tag, d.message.body) for d in client.deliveries()] == [
        ("high", b"1"),
        ("low", b"2"),
    ]
    client.call(ch.basic_ack, 1)
    assert [(d.consumer_tag, d.message.body) for d in client.deliveries()] == [("high", b"3")]


def test_delivery_only_at_dispatch(client: Client) -> None:
    setup_queue(client)
    client.publish("", "q")
    ch = client.channel()
    ch.basic_consume("q", "c")
    assert list(client.connection.outbox) == []
    client.broker.dispatch()
    assert [d.consumer_tag for d in client.deliveries()] == ["c"]


def test_delivery_to_other_connection_wakes_it(client: Client, other: Client) -> None:
    setup_queue(client)
    other.call(other.channel().basic_consume, "q", "c", no_ack=True)
    before = other.wakeups
    client.publish("", "q")
    assert other.wakeups == before + 1
    assert [d.message.body for d in other.deliveries()] == [b"x"]


def test_prefetch_per_consumer_applies_to_later_consumers(client: Client) -> None:
    setup_queue(client)
    ch = client.channel()
    client.call(ch.basic_consume, "q", "unlimited")
    ch.basic_qos(prefetch_count=1)
    client.call(ch.basic_consume, "q", "one")
    for index in range(6):
        client.publish("", "q", str(index).encode())
    counts: dict[str, int] = {}
    for delivery in client.deliveries():
        counts[delivery.consumer_tag] = counts.get(delivery.consumer_tag, 0) + 1
    assert counts == {"one": 1, "unlimited": 5}


def test_global_prefetch_is_shared(client: Client) -> None:
    setup_queue(client)
    setup_queue(client, "q2")
    ch = client.channel()
    ch.basic_qos(prefetch_count=2, global_=True)
    client.call(ch.basic_consume, "q", "a")
    client.call(ch.basic_consume, "q2", "b")
    for _ in range(3):
        client.publish("", "q")
        client.publish("", "q2")
    deliveries = client.deliveries()
    assert len(deliveries) == 2
    client.call(ch.basic_ack, deliveries[0].delivery_tag)
    assert len(client.deliveries()) == 1


def test_global_and_per_consumer_both_apply(client: Client) -> None:
    setup_queue(client)
    ch = client.channel()
    ch.basic_qos(prefetch_count=1)
    ch.basic_qos(prefetch_count=3, global_=True)
    client.call(ch.basic_consume, "q", "a")
    client.call(ch.basic_consume, "q", "b")
    for _ in range(5):
        client.publish("", "q")
    assert sorted(d.consumer_tag for d in client.deliveries()) == ["a", "b"]


def test_qos_prefetch_size_and_no_ack(client: Client) -> None:
    err = raises(540, "NOT_IMPLEMENTED - prefetch_size!=0 (10)", client.channel().basic_qos, 10, 0)
    assert err.is_connection_error
    setup_queue(client)
    ch = client.channel(2)
    ch.basic_qos(prefetch_count=1)
    client.call(ch.basic_consume, "q", "c", no_ack=True)
    for _ in range(3):
        client.publish("", "q", channel_id=2)
    assert len(client.deliveries()) == 3


def test_get_ignores_prefetch_and_reports_remaining(client: Client) -> None:
    setup_queue(client)
    ch = client.channel()
    ch.basic_qos(prefetch_count=1, global_=True)
    for body in (b"1", b"2", b"3"):
        client.publish("", "q", body)
    first = ch.basic_get("q")
    second = ch.basic_get("q", no_ack=True)
    assert first == GetResult(1, False, "", "q", 2, first.message) if first else False
    assert second is not None
    assert (second.delivery_tag, second.message_count) == (2, 1)
    raises(404, f"NOT_FOUND - no queue 'nope' {V}", client.channel(2).basic_get, "nope")
    ch = client.channel(3)
    assert ch.basic_get("q") is not None
    assert ch.basic_get("q") is None


def test_delivery_tags_shared_between_get_and_consume(client: Client) -> None:
    setup_queue(client)
    ch = client.channel()
    client.publish("", "q")
    client.publish("", "q")
    got = ch.basic_get("q")
    assert got is not None
    assert got.delivery_tag == 1
    client.call(ch.basic_consume, "q", "c")
    assert [d.delivery_tag for d in client.deliveries()] == [2]


def test_ack_errors(client: Client) -> None:
    setup_queue(client)
    for _ in range(4):
        client.publish("", "q")
    ch = client.channel()
    for _ in range(2):
        ch.basic_get("q")
    ch.basic_ack(1)
    raises(406, "PRECONDITION_FAILED - unknown delivery tag 1", ch.basic_ack, 1)
    ch = client.channel(2)
    raises(406, "PRECONDITION_FAILED - unknown delivery tag 0", ch.basic_ack, 0)
    ch = client.channel(3)
    ch.basic_get("q", no_ack=True)
    raises(406, "PRECONDITION_FAILED - unknown delivery tag 1", ch.basic_reject, 1)
    ch = client.channel(4)
    ch.basic_get("q")
    raises(406, "PRECONDITION_FAILED - unknown delivery tag 5", ch.basic_nack, 5, True)
    assert ch.unacked  # nothing was acked by the failed multiple


def test_ack_multiple_and_zero(client: Client) -> None:
    setup_queue(client)
    for _ in range(5):
        client.publish("", "q")
    ch = client.channel()
    for _ in range(5):
        ch.basic_get("q")
    ch.basic_ack(3, multiple=True)
    assert sorted(ch.unacked) == [4, 5]
    ch.basic_ack(0, multiple=True)
    assert ch.unacked == {}
    assert client.broker.snapshot().queues["q"].unacked_count == 0


def test_requeue_returns_to_original_position(client: Client) -> None:
    setup_queue(client)
    for body in (b"1", b"2", b"3", b"4"):
        client.publish("", "q", body)
    ch = client.channel()
    first = ch.basic_get("q")
    second = ch.basic_get("q")
    assert first
    assert second
    ch.basic_reject(second.delivery_tag, requeue=True)
    ch.basic_nack(first.delivery_tag, requeue=True)
    messages = client.broker.snapshot().queues["q"].messages
    assert [(m.body, m.redelivered) for m in messages] == [
        (b"1", True),
        (b"2", True),
        (b"3", False),
        (b"4", False),
    ]
    got = ch.basic_get("q")
    assert got is not None
    assert got.redelivered


def test_reject_without_requeue_drops(client: Client) -> None:
    setup_queue(client)
    client.publish("", "q")
    ch = client.channel()
    got = ch.basic_get("q")
    assert got is not None
    ch.basic_reject(got.delivery_tag, requeue=False)
    assert client.broker.snapshot().queues["q"].message_count == 0


def test_recover(client: Client) -> None:
    setup_queue(client)
    ch = client.channel()
    client.call(ch.basic_consume, "q", "c")
    client.publish("", "q", b"a")
    client.publish("", "q", b"b")
    assert [d.redelivered for d in client.deliveries()] == [False, False]
    client.call(ch.basic_recover, True)
    deliveries = client.deliveries()
    assert [(d.message.body, d.redelivered, d.delivery_tag) for d in deliveries] == [
        (b"a", True, 3),
        (b"b", True, 4),
    ]
    err = raises(540, "NOT_IMPLEMENTED - requeue=false", ch.basic_recover, False)
    assert err.is_connection_error


def test_cancel_keeps_unacked_ackable(client: Client) -> None:
    setup_queue(client)
    ch = client.channel()
    client.call(ch.basic_consume, "q", "c")
    client.publish("", "q")
    (delivery,) = client.deliveries()
    ch.basic_cancel("c")
    ch.basic_cancel("c")
    ch.basic_cancel("never-existed")
    ch.basic_ack(delivery.delivery_tag)
    assert client.broker.snapshot().queues["q"].unacked_count == 0


def test_channel_close_requeues_at_original_positions(client: Client, other: Client) -> None:
    setup_queue(client)
    for body in (b"1", b"2", b"3"):
        client.publish("", "q", body)
    ch = client.channel(2)
    client.call(ch.basic_consume, "q", "c")
    deliveries = client.deliveries()
    ch.basic_ack(deliveries[1].delivery_tag)
    client.connection.close_channel(2)
    messages = client.broker.snapshot().queues["q"].messages
    assert [(m.body, m.redelivered) for m in messages] == [(b"1", True), (b"3", True)]
    other.call(other.channel().basic_consume, "q", "o")
    assert [(d.message.body, d.redelivered) for d in other.deliveries()] == [
        (b"1", True),
        (b"3", True),
    ]
    other.connection.close()
    assert client.broker.snapshot().queues["q"].message_count == 2


def test_requeue_goes_to_next_consumer(client: Client) -> None:
    setup_queue(client)
    ch = client.channel()
    ch.basic_qos(prefetch_count=1)
    client.call(ch.basic_consume, "q", "a")
    client.call(ch.basic_consume, "q", "b")
    client.publish("", "q", b"m")
    (first,) = client.deliveries()
    client.call(ch.basic_nack, first.delivery_tag, False, True)
    (second,) = client.deliveries()
    assert second.redelivered
    assert second.consumer_tag != first.consumer_tag


def test_single_active_consumer(client: Client) -> None:
    setup_queue(client, "sac", arguments={"x-single-active-consumer": True})
    ch = client.channel()
    client.call(ch.basic_consume, "sac", "first", no_ack=True)
    client.call(ch.basic_consume, "sac", "second", no_ack=True)
    assert ch.queue_declare("sac", passive=True) == ("sac", 0, 2)
    for _ in range(3):
        client.publish("", "sac")
    assert {d.consumer_tag for d in client.deliveries()} == {"first"}
    client.call(ch.basic_cancel, "first")
    client.publish("", "sac")
    assert [d.consumer_tag for d in client.deliveries()] == ["second"]


def test_priority_queue(client: Client) -> None:
    setup_queue(client, "pq", arguments={"x-max-priority": 5})
    for body, priority in ((b"a", 1), (b"b", 9), (b"c", None), (b"d", 5), (b"e", 1)):
        client.publish("", "pq", body, properties=Basic.Properties(priority=priority))
    bodies = [m.body for m in client.broker.snapshot().queues["pq"].messages]
    assert bodies == [b"b", b"d", b"a", b"e", b"c"]  # 9 capped to 5, FIFO within a priority
    ch = client.channel()
    first = ch.basic_get("pq")
    second = ch.basic_get("pq")
    assert first
    assert second
    client.publish("", "pq", b"f", properties=Basic.Properties(priority=5))
    ch.basic_reject(second.delivery_tag)
    ch.basic_reject(first.delivery_tag)
    bodies = [m.body for m in client.broker.snapshot().queues["pq"].messages]
    assert bodies == [b"b", b"d", b"f", b"a", b"e", b"c"]


def test_plain_queue_ignores_priority(client: Client) -> None:
    setup_queue(client)
    client.publish("", "q", b"low", properties=Basic.Properties(priority=1))
    client.publish("", "q", b"high", properties=Basic.Properties(priority=255))
    assert [m.body for m in client.broker.snapshot().queues["q"].messages] == [b"low", b"high"]


def test_flow(client: Client) -> None:
    assert client.channel().flow(True) is True
    err = raises(540, "NOT_IMPLEMENTED - active=false", client.channel().flow, False)
    assert err.is_connection_error


def test_deliver_event_type(client: Client, broker: BrokerModel) -> None:
    setup_queue(client)
    client.call(client.channel().basic_consume, "q", "c", no_ack=True)
    client.publish("", "q")
    (event,) = client.events()
    assert isinstance(event, Deliver)
    assert event.channel_id == 1


def test_return_carries_properties_without_bcc(client: Client) -> None:

    raw = raw_props_with_headers(
        [(b"a", typed("b", 1)), (b"BCC", typed("A", [typed("S", "nope")])), (b"z", typed("b", 2))]
    )
    client.publish("amq.direct", "nowhere", b"ret", mandatory=True, raw_properties=raw)
    (ret,) = client.events()
    assert isinstance(ret, Return)
    assert ret.message.raw_properties == bytes.fromhex("20000000000801616201017a6202")


def test_get_does_not_count_toward_global_prefetch(client: Client) -> None:
    setup_queue(client)
    for body in (b"0", b"1", b"2", b"3"):
        client.publish("", "q", body)
    ch = client.channel()
    ch.basic_qos(prefetch_count=1, global_=True)
    got = ch.basic_get("q")
    assert got is not None
    client.call(ch.basic_consume, "q", "c")
    assert [(d.delivery_tag, d.message.body) for d in client.deliveries()] == [(2, b"1")]
    client.call(ch.basic_ack, got.delivery_tag)
    assert client.deliveries() == []


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20)), max_size=30))
def test_requeue_always_restores_publish_order(steps: list[tuple[bool, int]]) -> None:
    broker = BrokerModel(clock=lambda: 0.0)
    client = Client(broker)
    ch = client.channel()
    ch.queue_declare("q")
    for index in range(10):
        client.publish("", "q", bytes([index]))
    for take, pick in steps:
        if take:
            ch.basic_get("q")
        elif ch.unacked:
            tags = sorted(ch.unacked)
            ch.basic_reject(tags[pick % len(tags)], requeue=True)
    ch.basic_recover(True)
    bodies = [m.body for m in broker.snapshot().queues["q"].messages]
    assert bodies == [bytes([i]) for i in range(10)]


def test_unparseable_header_tag_is_internal_error(client: Client) -> None:
    import struct

    setup_queue(client)
    table = b"\x01kU\x00\x01"
    raw = struct.pack(">HI", 0x2000, len(table)) + table
    from async_amqp_testing._model import Message

    message = Message("", "q", Basic.Properties(), raw, b"")
    err = raises(
        541, "INTERNAL_ERROR", client.channel().basic_publish, "", "q", False, False, message
    )
    assert err.is_connection_error
