"""queue.* semantics: names, equivalence, argument validation, exclusivity, auto-delete,
bind/unbind, purge and delete."""

from __future__ import annotations

import re

import pytest

from async_amqp_testing._model import BrokerModel, CancelNotify
from async_amqp_testing._model.fieldtable import typed

from .modelkit import Client, raises

V = "in vhost '/'"
QV = "for queue 'q' in vhost '/'"
LOCKED = (
    "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'q' in vhost '/'. It could "
    "be originally declared on another connection or the exclusive property value does not match "
    "that of the original declaration."
)


def test_server_named_queue(client: Client) -> None:
    name, messages, consumers = client.channel().queue_declare("")
    assert re.fullmatch(r"amq\.gen-[A-Za-z0-9_-]{22}", name)
    assert (messages, consumers) == (0, 0)


def test_reserved_prefix_and_long_names(client: Client) -> None:
    ch = client.channel()
    raises(
        403,
        "ACCESS_REFUSED - queue name 'amq.gen-x' contains reserved prefix 'amq.*'",
        ch.queue_declare,
        "amq.gen-x",
    )
    long_name = "q" * 255
    assert ch.queue_declare(long_name)[0] == long_name


def test_declare_ok_counts_ready_only(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    for _ in range(3):
        client.publish("", "q")
    assert ch.basic_get("q") is not None
    assert ch.queue_declare("q") == ("q", 2, 0)
    assert ch.queue_declare("q", passive=True) == ("q", 2, 0)


def test_passive_missing_and_empty_name(client: Client) -> None:
    raises(404, f"NOT_FOUND - no queue 'q' {V}", client.channel(1).queue_declare, "q", True)
    raises(404, f"NOT_FOUND - no queue '' {V}", client.channel(2).queue_declare, "", True)


@pytest.mark.parametrize(
    "method",
    ["queue_bind", "queue_unbind", "queue_purge", "queue_delete", "basic_get", "basic_consume"],
)
def test_empty_name_without_previous_declare(client: Client, method: str) -> None:
    ch = client.channel()
    args: tuple[object, ...] = (
        ("", "amq.direct") if method in ("queue_bind", "queue_unbind") else ("",)
    )
    raises(404, "NOT_FOUND - no previously declared queue", getattr(ch, method), *args)


def test_empty_name_means_last_declared(client: Client) -> None:
    ch = client.channel()
    name = ch.queue_declare("")[0]
    ch.queue_bind("", "amq.direct", "k")
    client.publish("amq.direct", "k")
    got = ch.basic_get("")
    assert got is not None
    assert got.routing_key == "k"
    client.publish("", name)
    assert ch.queue_purge("") == 1
    assert ch.basic_consume("", "c1") == "c1"
    # Per channel: another channel has no last queue.
    raises(404, "NOT_FOUND - no previously declared queue", client.channel(2).queue_purge, "")


def test_flag_mismatch(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    raises(
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' {V}: received "
        "'true' but current is 'false'",
        ch.queue_declare,
        "q",
        durable=True,
    )
    ch = client.channel(2)
    raises(
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue 'q' {V}: received "
        "'true' but current is 'false'",
        ch.queue_declare,
        "q",
        auto_delete=True,
    )


def test_argument_equivalence(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare(
        "q", arguments={"x-message-ttl": typed("I", 1000), "x-max-length": typed("I", 10)}
    )
    # Integer types are interchangeable; unknown and non-x arguments are ignored.
    for tag in "bBsuIilT":
        if tag in "bB":
            continue
        ch.queue_declare(
            "q",
            arguments={
                "x-message-ttl": typed(tag, 1000),
                "x-max-length": typed(tag, 10),
                "x-foo": "bar",
                "foo": 1,
            },
        )
    cases = [
        (
            {"x-message-ttl": typed("I", 2000), "x-max-length": typed("I", 11)},
            "inequivalent arg 'x-message-ttl' {QV}: received '2000' but current is '1000'",
        ),
        (
            {"x-message-ttl": typed("I", 1000)},
            "inequivalent arg 'x-max-length' {QV}: received none but current is "
            "the value '10' of type 'signedint'",
        ),
        (
            {
                "x-message-ttl": typed("I", 1000),
                "x-max-length": typed("I", 10),
                "x-expires": typed("I", 10),
            },
            "inequivalent arg 'x-expires' {QV}: received the value '10' of type "
            "'signedint' but current is none",
        ),
        (
            {"x-message-ttl": typed("I", 1000), "x-max-length": typed("S", "10")},
            "inequivalent arg 'x-max-length' {QV}: received '10' but current is '10'",
        ),
        (
            {"x-message-ttl": typed("d", 1000.0), "x-max-length": typed("I", 10)},
            "inequivalent arg 'x-message-ttl' {QV}: received '1000.0' but current is '1000'",
        ),
    ]
    for channel_id, (arguments, detail) in enumerate(cases, start=2):
        raises(
            406,
            f"PRECONDITION_FAILED - {detail.replace('{QV}', QV)}",
            client.channel(channel_id).queue_declare,
            "q",
            arguments=arguments,
        )


def test_queue_type_classic_equals_no_type(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    ch.queue_declare("q", arguments={"x-queue-type": "classic"})
    raises(
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' {V}: received "
        "the value 'quorum' of type 'longstr' but current is none",
        ch.queue_declare,
        "q",
        arguments={"x-queue-type": "quorum"},
    )


INVALID = [
    (
        {"x-message-ttl": typed("I", -1)},
        "invalid arg 'x-message-ttl' {QV}: {value_negative,-1}",
    ),
    (
        {"x-expires": typed("I", 0)},
        "invalid arg 'x-expires' {QV}: {value_zero,0}",
    ),
    (
        {"x-expires": typed("I", -5)},
        "invalid arg 'x-expires' {QV}: {value_negative,-5}",
    ),
    (
        {"x-message-ttl": typed("l", 2**40)},
        "invalid arg 'x-message-ttl' {QV}: {value_too_large,1099511627776}",
    ),
    (
        {"x-expires": typed("l", 315_360_000_001)},
        "invalid arg 'x-expires' {QV}: {value_too_large,315360000001}",
    ),
    (
        {"x-message-ttl": "1000"},
        "invalid arg 'x-message-ttl' {QV}: \"expected integer, got longstr\"",
    ),
    (
        {"x-expires": 1.0},
        "invalid arg 'x-expires' {QV}: \"expected integer, got double\"",
    ),
    (
        {"x-max-length": True},
        "invalid arg 'x-max-length' {QV}: \"expected integer, got bool\"",
    ),
    (
        {"x-max-length": typed("T", 5)},
        "invalid arg 'x-max-length' {QV}: \"expected integer, got timestamp\"",
    ),
    (
        {"x-max-length": -1},
        "invalid arg 'x-max-length' {QV}: {value_negative,-1}",
    ),
    (
        {"x-max-length-bytes": -1},
        "invalid arg 'x-max-length-bytes' {QV}: {value_negative,-1}",
    ),
    (
        {"x-max-priority": 256},
        "invalid arg 'x-max-priority' {QV}: {max_value_exceeded,256}",
    ),
    (
        {"x-max-priority": -1},
        "invalid arg 'x-max-priority' {QV}: {value_negative,-1}",
    ),
    (
        {"x-overflow": "foo"},
        "invalid arg 'x-overflow' {QV}: invalid_overflow",
    ),
    (
        {"x-overflow": 1},
        "invalid arg 'x-overflow' {QV}: {unacceptable_type,signedint}",
    ),
    (
        {"x-dead-letter-routing-key": "k"},
        "invalid arg 'x-dead-letter-routing-key' {QV}: routing_key_but_no_dlx_defined",
    ),
    (
        {"x-queue-type": "nope"},
        "invalid arg 'x-queue-type' {QV}: \"unsupported queue type 'nope'\"",
    ),
    (
        {"x-dead-letter-exchange": 1},
        "invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'",
    ),
    (
        {"x-queue-mode": "foo"},
        "invalid arg 'x-queue-mode' {QV}: \"unsupported queue mode 'foo'\"",
    ),
    (
        {"x-single-active-consumer": "true"},
        "invalid arg 'x-single-active-consumer' {QV}: {unacceptable_type,longstr}",
    ),
    (
        {"x-queue-version": 3},
        "invalid arg 'x-queue-version' {QV}: \"unsupported queue version '3'\"",
    ),
    (
        {"x-delivery-limit": 1},
        "invalid arg 'x-delivery-limit' {QV} of queue type rabbit_classic_queue",
    ),
    (
        {"x-max-age": "1D"},
        "invalid arg 'x-max-age' {QV} of queue type rabbit_classic_queue",
    ),
    ({"x-queue-type": "quorum"}, "invalid property 'non-durable' {QV}"),
    ({"x-queue-type": "stream"}, "invalid property 'non-durable' {QV}"),
]


@pytest.mark.parametrize(("arguments", "detail"), INVALID)
def test_invalid_arguments(client: Client, arguments: dict[str, object], detail: str) -> None:
    raises(
        406,
        f"PRECONDITION_FAILED - {detail.replace('{QV}', QV)}",
        client.channel().queue_declare,
        "q",
        arguments=arguments,
    )
    assert "q" not in client.broker.snapshot().queues


def test_durable_quorum_and_stream_queues_are_declared(client: Client) -> None:
    # Every x-queue-type RabbitMQ 3.10 accepts is accepted (they were refused with 540).
    channel = client.channel()
    for name, queue_type in (("q", "quorum"), ("s", "stream"), ("c", "classic")):
        declared = channel.queue_declare(name, durable=True, arguments={"x-queue-type": queue_type})
        assert declared == (name, 0, 0)


def test_bad_master_locator_is_an_internal_error(client: Client) -> None:
    err = raises(
        541,
        "INTERNAL_ERROR",
        client.channel().queue_declare,
        "q",
        arguments={"x-queue-master-locator": "balanced"},
    )
    assert err.is_connection_error


@pytest.mark.parametrize(
    "arguments",
    [
        {"x-message-ttl": 0},
        {"x-max-priority": 0},
        {"x-max-priority": 255},
        {"x-queue-mode": "lazy"},
        {"x-queue-type": "classic"},
        {"x-dead-letter-exchange": "does-not-exist"},
        {"x-queue-version": 2},
        {"x-queue-master-locator": "client-local"},
        {"x-ha-policy": "all"},
        {"x-whatever": "ignored"},
        {"x-message-ttl": typed("l", 315_360_000_000)},
    ],
)
def test_accepted_arguments(client: Client, arguments: dict[str, object]) -> None:
    assert client.channel().queue_declare("q", arguments=arguments)[0] == "q"


def test_validation_only_on_creation(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    raises(
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' {V}: received "
        "the value '10' of type 'longstr' but current is none",
        ch.queue_declare,
        "q",
        arguments={"x-max-length": "10"},
    )


def test_exclusive_queue_is_locked_for_other_connections(client: Client, other: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q", exclusive=True)
    for index, (method, args, kwargs) in enumerate(
        [
            ("queue_declare", ("q",), {}),
            ("queue_declare", ("q",), {"exclusive": True}),
            ("queue_declare", ("q",), {"passive": True}),
            ("queue_bind", ("q", "amq.direct"), {}),
            ("basic_consume", ("q",), {}),
            ("basic_get", ("q",), {}),
            ("queue_purge", ("q",), {}),
            ("queue_delete", ("q",), {}),
        ],
        start=1,
    ):
        raises(405, LOCKED, getattr(other.channel(index), method), *args, **kwargs)
    other.publish("", "q", channel_id=20)
    assert ch.queue_declare("q", exclusive=True) == ("q", 1, 0)


def test_exclusive_owner_flip_and_other_channels(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q", exclusive=True)
    raises(405, LOCKED, ch.queue_declare, "q")
    ch2 = client.channel(2)
    ch2.queue_declare("q", exclusive=True)
    assert ch2.basic_get("q") is None
    client.connection.close_channel(1)
    client.connection.close_channel(2)
    assert "q" in client.broker.snapshot().queues
    client.connection.close()
    assert "q" not in client.broker.snapshot().queues


def test_exclusive_queues_are_never_durable(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q", durable=True, exclusive=True)
    ch.queue_declare("q", durable=False, exclusive=True)
    assert not client.broker.snapshot().queues["q"].durable


def test_dlx_type_reported_before_other_arguments(client: Client) -> None:
    raises(
        406,
        "PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-dead-letter-exchange' "
        "in queue 'q' in vhost '/'",
        client.channel().queue_declare,
        "q",
        arguments={"x-expires": 0, "x-dead-letter-exchange": 1},
    )


def test_non_exclusive_queue_flipped_to_exclusive_is_locked(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    raises(405, LOCKED, ch.queue_declare, "q", exclusive=True)


def test_auto_delete_queue(client: Client, broker: BrokerModel) -> None:
    ch = client.channel()
    ch.queue_declare("never", auto_delete=True)
    ch.basic_get("never")
    ch.queue_declare("ad", auto_delete=True)
    ch.basic_consume("ad", "c1")
    ch.basic_consume("ad", "c2")
    ch.basic_cancel("c1")
    assert "ad" in broker.snapshot().queues
    ch.basic_cancel("c2")
    assert "ad" not in broker.snapshot().queues
    ch.queue_declare("ad2", auto_delete=True)
    ch.basic_consume("ad2", "c3")
    client.connection.close_channel(1)
    assert "ad2" not in broker.snapshot().queues
    client.connection.close()
    assert "never" in broker.snapshot().queues


def test_bind_is_idempotent_and_errors(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    ch.queue_bind("q", "amq.direct", "k")
    ch.queue_bind("q", "amq.direct", "k")
    client.publish("amq.direct", "k")
    assert ch.queue_declare("q", passive=True)[1] == 1
    raises(404, f"NOT_FOUND - no queue 'nope' {V}", ch.queue_bind, "nope", "amq.direct")
    raises(404, f"NOT_FOUND - no exchange 'nox' {V}", client.channel(2).queue_bind, "q", "nox")
    raises(404, f"NOT_FOUND - no exchange 'nox' {V}", client.channel(3).queue_bind, "nope", "nox")
    ch = client.channel(4)
    ch.queue_unbind("q", "amq.direct", "other")
    ch.queue_unbind("nope", "amq.direct", "k")
    ch.queue_unbind("q", "nox", "k")


def test_purge_counts_ready_and_unacked_requeue_later(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    for body in (b"1", b"2", b"3"):
        client.publish("", "q", body)
    got = ch.basic_get("q")
    assert got is not None
    assert ch.queue_purge("q") == 2
    raises(404, f"NOT_FOUND - no queue 'nope' {V}", client.channel(2).queue_purge, "nope")
    client.connection.close_channel(1)
    assert [m.body for m in client.broker.snapshot().queues["q"].messages] == [b"1"]


def test_delete_counts_and_preconditions(client: Client, other: Client) -> None:
    ch = client.channel()
    assert ch.queue_delete("missing", if_unused=True, if_empty=True) == 0
    ch.queue_declare("q")
    client.publish("", "q")
    raises(
        406, f"PRECONDITION_FAILED - queue 'q' {V} not empty", ch.queue_delete, "q", if_empty=True
    )
    ch = client.channel(2)
    got = ch.basic_get("q")
    assert got is not None
    assert ch.queue_delete("q", if_empty=True) == 0  # unacked alone does not block
    ch.queue_declare("q2")
    other.channel().basic_consume("q2", "c")
    raises(
        406, f"PRECONDITION_FAILED - queue 'q2' {V} in use", ch.queue_delete, "q2", if_unused=True
    )


def test_delete_notifies_consumers_and_channel_stays_usable(
    client: Client, broker: BrokerModel
) -> None:
    quiet = Client(broker, cancel_notify=False)
    ch = client.channel()
    ch.queue_declare("q")
    client.publish("", "q")
    client.call(ch.basic_consume, "q", "c1")
    quiet.call(quiet.channel().basic_consume, "q", "c2")
    (delivery,) = client.deliveries()
    assert quiet.call(quiet.channel(2).queue_delete, "q") == 0  # dispatch, as the wire does
    assert client.events() == [CancelNotify(1, "c1")]
    assert quiet.events() == []
    ch.basic_cancel("c1")
    ch.basic_ack(delivery.delivery_tag)
    assert ch.queue_declare("again")[0] == "again"
