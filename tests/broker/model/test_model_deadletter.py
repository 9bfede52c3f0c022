"""Dead-lettering: triggers, routing, and x-death byte for byte as RabbitMQ 3.10 writes it."""

from __future__ import annotations

import struct

from async_amqp_testing._model import BrokerModel
from async_amqp_testing._model.fieldtable import FieldValue, encode_entries, typed

from .modelkit import Client, FakeClock, raw_props_with_headers

NOW = 1_700_000_000  # the broker fixture's wall clock


def death(
    first: bool,
    count: int,
    reason: str,
    queue: str,
    exchange: str,
    keys: list[str],
    expiration: bytes | None = None,
    time: int = NOW,
) -> FieldValue:
    """One x-death entry: the very first one in RabbitMQ's insertion order, later ones sorted."""
    entries: list[tuple[str, FieldValue]] = [
        ("count", typed("l", count)),
        ("reason", typed("S", reason)),
        ("queue", typed("S", queue)),
        ("time", typed("T", time)),
        ("exchange", typed("S", exchange)),
        ("routing-keys", typed("A", [typed("S", k) for k in keys])),
    ]
    if expiration is not None:
        entries.append(("original-expiration", typed("S", expiration)))
    if not first:
        entries.sort()
    return typed("F", dict(entries))


def props(entries: list[tuple[bytes, FieldValue]], delivery_mode: int | None = None) -> bytes:
    flags = 0x2000 | (0x1000 if delivery_mode else 0)
    tail = bytes([delivery_mode]) if delivery_mode else b""
    return struct.pack(">H", flags) + encode_entries(entries) + tail


def setup_dlx(client: Client, **extra: object) -> None:
    ch = client.channel()
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("dead")
    ch.queue_bind("dead", "dlx")
    ch.queue_declare("work", arguments={"x-dead-letter-exchange": "dlx", **extra})


def test_reject_dead_letters_with_x_death_exact_bytes(client: Client) -> None:
    setup_dlx(client)
    # Unsorted user headers with several types, a CC, a persistent delivery mode and an
    # expiration: the headers get sorted, CC stays (no DLRK), expiration is removed.
    user = [
        (b"zz", typed("s", 5)),
        (b"CC", typed("A", [typed("S", "cc-key")])),
        (b"aa", typed("x", b"\xff\xfe")),
        (b"mm", typed("T", 7)),
    ]
    raw = (
        struct.pack(">H", 0x2000 | 0x1000 | 0x0100) + encode_entries(user) + b"\x02" + b"\x0560000"
    )
    client.publish("", "work", b"body", raw_properties=raw)
    ch = client.channel()
    got = ch.basic_get("work")
    assert got is not None
    ch.basic_reject(got.delivery_tag, requeue=False)
    dead = ch.basic_get("dead")
    assert dead is not None
    assert (dead.exchange, dead.routing_key, dead.redelivered) == ("dlx", "work", False)
    expected = props(
        [
            (b"CC", typed("A", [typed("S", "cc-key")])),
            (b"aa", typed("x", b"\xff\xfe")),
            (b"mm", typed("T", 7)),
            (
                b"x-death",
                typed("A", [death(True, 1, "rejected", "work", "", ["work", "cc-key"], b"60000")]),
            ),
            (b"x-first-death-exchange", typed("S", "")),
            (b"x-first-death-queue", typed("S", "work")),
            (b"x-first-death-reason", typed("S", "rejected")),
            (b"zz", typed("s", 5)),
        ],
        delivery_mode=2,
    )
    assert dead.message.raw_properties == expected
    assert dead.message.properties.expiration is None
    assert dead.message.body == b"body"


def test_dead_letter_routing_key_replaces_keys_and_drops_cc(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("target")
    ch.queue_declare("cc-queue")
    ch.queue_declare(
        "work", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "target"}
    )
    raw = raw_props_with_headers([(b"CC", typed("A", [typed("S", "cc-queue")]))])
    client.publish("", "work", raw_properties=raw)
    got = ch.basic_get("cc-queue", no_ack=True)  # the CC copy, not dead-lettered
    got = ch.basic_get("work")
    assert got is not None
    ch.basic_nack(got.delivery_tag, requeue=False)
    dead = ch.basic_get("target")
    assert dead is not None
    assert (dead.exchange, dead.routing_key) == ("", "target")
    assert ch.queue_declare("cc-queue", passive=True)[1] == 0
    expected = props(
        [
            (
                b"x-death",
                typed("A", [death(True, 1, "rejected", "work", "", ["work", "cc-queue"])]),
            ),
            (b"x-first-death-exchange", typed("S", "")),
            (b"x-first-death-queue", typed("S", "work")),
            (b"x-first-death-reason", typed("S", "rejected")),
        ]
    )
    assert dead.message.raw_properties == expected


def test_repeated_deaths_newest_first_and_count_moves_to_front(
    client: Client, broker: BrokerModel
) -> None:
    ch = client.channel()
    ch.exchange_declare("x", "fanout")
    ch.queue_declare("a", arguments={"x-dead-letter-exchange": "x"})
    ch.queue_declare(
        "b", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "a"}
    )
    ch.queue_bind("b", "x")
    client.publish("", "a", b"m")
    times = iter([NOW, NOW + 1, NOW + 2, NOW + 3])
    broker.system_time = lambda: float(next(times))
    bodies = []
    for queue in ("a", "b", "a", "b"):
        got = ch.basic_get(queue)
        assert got is not None
        bodies.append(got.message.raw_properties)
        ch.basic_reject(got.delivery_tag, requeue=False)
    final = ch.basic_get("a")
    assert final is not None
    first = death(True, 1, "rejected", "a", "", ["a"], time=NOW)
    first_b = death(False, 1, "rejected", "b", "x", ["a"], time=NOW + 1)
    # Third death (a again): a's entry gets count 2, keeps its time, is sorted, moves first.
    a2 = death(False, 2, "rejected", "a", "", ["a"], time=NOW)
    b2 = death(False, 2, "rejected", "b", "x", ["a"], time=NOW + 1)
    tail = [
        (b"x-first-death-exchange", typed("S", "")),
        (b"x-first-death-queue", typed("S", "a")),
        (b"x-first-death-reason", typed("S", "rejected")),
    ]
    assert bodies[1] == props([(b"x-death", typed("A", [first])), *tail])
    assert bodies[2] == props([(b"x-death", typed("A", [first_b, first])), *tail])
    assert bodies[3] == props([(b"x-death", typed("A", [a2, first_b])), *tail])
    assert final.message.raw_properties == props([(b"x-death", typed("A", [b2, a2])), *tail])


def test_expired_messages_dead_letter_with_reason_expired(
    client: Client, clock: FakeClock, broker: BrokerModel
) -> None:
    setup_dlx(client, **{"x-message-ttl": 100})
    client.publish("", "work", b"m")
    clock.advance(0.1)
    broker.run_timers()
    dead = client.channel().basic_get("dead")
    assert dead is not None
    assert dead.message.properties.headers is not None
    assert dead.message.properties.headers["x-first-death-reason"] == "expired"


def test_maxlen_dead_letters_dropped_head_and_rejected_publish(client: Client) -> None:
    setup_dlx(client, **{"x-max-length": 1})
    client.publish("", "work", b"old")
    client.publish("", "work", b"new")
    ch = client.channel()
    ch.queue_declare(
        "work2",
        arguments={
            "x-dead-letter-exchange": "dlx",
            "x-max-length": 1,
            "x-overflow": "reject-publish-dlx",
        },
    )
    ch.confirm_select()
    client.publish("", "work2", b"first")
    client.publish("", "work2", b"rejected")
    assert [type(e).__name__ for e in client.events()] == ["PublisherAck", "PublisherNack"]
    dead = [client.channel(2).basic_get("dead", no_ack=True) for _ in range(2)]
    assert [d.message.body for d in dead if d] == [b"old", b"rejected"]
    assert all(
        d
        and d.message.properties.headers
        and d.message.properties.headers["x-first-death-reason"] == "maxlen"
        for d in dead
    )


def test_missing_dlx_drops(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("work", arguments={"x-dead-letter-exchange": "missing"})
    client.publish("", "work")
    got = ch.basic_get("work")
    assert got is not None
    ch.basic_reject(got.delivery_tag, requeue=False)
    assert ch.queue_declare("work", passive=True)[1] == 0


def test_automatic_cycle_is_dropped_but_rejects_may_cycle(
    client: Client, clock: FakeClock, broker: BrokerModel
) -> None:
    ch = client.channel()
    ch.queue_declare(
        "loop",
        arguments={
            "x-message-ttl": 10,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "loop",
        },
    )
    client.publish("", "loop")
    clock.advance(1)
    broker.run_timers()
    assert ch.queue_declare("loop", passive=True)[1] == 0
    ch.queue_declare(
        "rej", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "rej"}
    )
    client.publish("", "rej")
    for expected_count in (1, 2):
        got = ch.basic_get("rej")
        assert got is not None
        ch.basic_reject(got.delivery_tag, requeue=False)
        again = client.broker.snapshot().queues["rej"].messages[0]
        assert again.properties.headers is not None
        deaths = again.properties.headers["x-death"]
        assert isinstance(deaths, list)
        assert isinstance(deaths[0], dict)
        assert deaths[0]["count"] == expected_count


def test_deleted_queue_messages_are_not_dead_lettered(client: Client) -> None:
    setup_dlx(client)
    client.publish("", "work")
    ch = client.channel()
    got = ch.basic_get("work")
    client.publish("", "work")
    assert got is not None
    ch.queue_delete("work")
    ch.basic_reject(got.delivery_tag, requeue=False)
    assert ch.queue_declare("dead", passive=True)[1] == 0
