"""Message TTL, queue expiry and max-length overflow, driven by a fake clock."""

from __future__ import annotations

import pytest

from async_amqp_testing._model import BrokerModel, PublisherAck, PublisherNack, Return
from async_amqp_testing._model.queue import Queue

from .modelkit import Client, FakeClock, raw_props_with_headers


def count(client: Client, name: str = "q") -> int:
    return client.channel(99).queue_declare(name, passive=True)[1]


def test_queue_ttl_expires_at_head(client: Client, clock: FakeClock, broker: BrokerModel) -> None:
    client.channel().queue_declare("q", arguments={"x-message-ttl": 1000})
    client.publish("", "q", b"a")
    clock.advance(0.5)
    client.publish("", "q", b"b")
    assert broker.next_deadline() == clock.now + 0.5
    clock.advance(0.5)
    broker.run_timers()
    assert [m.body for m in broker.snapshot().queues["q"].messages] == [b"b"]
    assert broker.next_deadline() == clock.now + 0.5
    clock.advance(0.5)
    broker.run_timers()
    assert count(client) == 0
    assert broker.next_deadline() is None


def test_expiry_only_at_head_and_count_includes_expired(
    client: Client, clock: FakeClock, broker: BrokerModel
) -> None:
    client.channel().queue_declare("q")
    client.publish("", "q", b"long", raw_properties=raw_props_with_headers([], expiration=b"10000"))
    client.publish("", "q", b"short", raw_properties=raw_props_with_headers([], expiration=b"10"))
    clock.advance(1)
    broker.run_timers()
    assert count(client) == 2
    got = client.channel().basic_get("q", no_ack=True)
    assert got is not None
    assert got.message.body == b"long"
    # The expired one is now at the head: a get drops it first.
    assert client.channel().basic_get("q", no_ack=True) is None
    assert count(client) == 0


def test_smaller_ttl_wins_and_expiration_is_preserved(
    client: Client, clock: FakeClock, broker: BrokerModel
) -> None:
    client.channel().queue_declare("q", arguments={"x-message-ttl": 100})
    raw = raw_props_with_headers([], expiration=b"60000")
    client.publish("", "q", b"m", raw_properties=raw)
    assert broker.next_deadline() == clock.now + 0.1
    client.channel().queue_declare("q2", arguments={"x-message-ttl": 60000})
    client.publish("", "q2", b"m", raw_properties=raw_props_with_headers([], expiration=b"5"))
    clock.advance(0.01)
    broker.run_timers()
    assert count(client, "q2") == 0
    got = client.channel().basic_get("q", no_ack=True)
    assert got is not None
    assert got.message.raw_properties == raw


def test_ttl_zero_only_reaches_a_ready_consumer(client: Client, broker: BrokerModel) -> None:
    ch = client.channel()
    ch.queue_declare("q", arguments={"x-message-ttl": 0})
    client.publish("", "q", b"nobody")
    assert count(client) == 0
    client.call(ch.basic_consume, "q", "c")
    client.publish("", "q", b"taken")
    assert [d.message.body for d in client.deliveries()] == [b"taken"]
    client.publish("", "q", b"no-capacity-left")  # consumer without prefetch still takes it
    assert len(client.deliveries()) == 1
    ch.basic_qos(prefetch_count=1)
    client.call(ch.basic_consume, "q", "limited")
    ch.basic_cancel("c")
    client.publish("", "q", b"to-limited")
    client.publish("", "q", b"dropped")
    assert [d.message.body for d in client.deliveries()] == [b"to-limited"]
    assert count(client) == 0


def test_requeued_message_keeps_its_expiry(
    client: Client, clock: FakeClock, broker: BrokerModel
) -> None:
    ch = client.channel()
    ch.queue_declare("q", arguments={"x-message-ttl": 1000})
    client.publish("", "q")
    got = ch.basic_get("q")
    assert got is not None
    clock.advance(2)
    ch.basic_reject(got.delivery_tag, requeue=True)
    broker.run_timers()
    assert count(client) == 0


def test_queue_expires_when_unused(client: Client, clock: FakeClock, broker: BrokerModel) -> None:
    ch = client.channel()
    ch.queue_declare("q", arguments={"x-expires": 1000})
    clock.advance(0.9)
    ch.queue_declare("q", passive=True)  # renews the lease
    clock.advance(0.9)
    broker.run_timers()
    assert "q" in broker.snapshot().queues
    ch.basic_get("q")  # so does a get
    clock.advance(0.9)
    broker.run_timers()
    client.call(ch.basic_consume, "q", "c")
    assert broker.next_deadline() is None  # consumers keep it alive
    clock.advance(10)
    broker.run_timers()
    assert "q" in broker.snapshot().queues
    ch.basic_cancel("c")
    assert broker.next_deadline() == clock.now + 1
    clock.advance(1)
    broker.run_timers()
    assert "q" not in broker.snapshot().queues


def test_max_length_drop_head(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q", arguments={"x-max-length": 2})
    ch.confirm_select()
    for body in (b"1", b"2", b"3"):
        client.publish("", "q", body, mandatory=True)
    assert [type(e) for e in client.events()] == [PublisherAck] * 3
    assert [m.body for m in client.broker.snapshot().queues["q"].messages] == [b"2", b"3"]


def test_max_length_bytes_counts_ready_bodies(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q", arguments={"x-max-length-bytes": 5})
    client.publish("", "q", b"abc")
    got = ch.basic_get("q")  # unacked bytes do not count
    client.publish("", "q", b"abc")
    client.publish("", "q", b"de")
    client.publish("", "q", b"f")
    assert got is not None
    assert [m.body for m in client.broker.snapshot().queues["q"].messages] == [b"de", b"f"]


def test_reject_publish_nacks_in_confirm_mode_and_drops_otherwise(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    client.publish("", "q", b"kept")
    client.publish("", "q", b"dropped", mandatory=True)
    assert client.events() == []
    ch.confirm_select()
    client.publish("", "q", b"nacked", mandatory=True)
    assert client.events() == [PublisherNack(1, 1, False)]
    assert [m.body for m in client.broker.snapshot().queues["q"].messages] == [b"kept"]


def test_max_length_zero(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("drop", arguments={"x-max-length": 0})
    ch.queue_declare("reject", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    ch.confirm_select()
    client.publish("", "drop")
    client.publish("", "reject")
    assert client.events() == [PublisherAck(1, 1, False), PublisherNack(1, 2, False)]
    assert count(client, "drop") == count(client, "reject") == 0


def test_unroutable_mandatory_in_confirm_mode_return_before_ack(client: Client) -> None:
    client.channel().confirm_select()
    client.publish("amq.direct", "nowhere", mandatory=True)
    events = client.events()
    assert [type(e) for e in events] == [Return, PublisherAck]


def test_priority_queue_expires_only_the_head(
    client: Client, clock: FakeClock, broker: BrokerModel
) -> None:
    from pamqp.commands import Basic

    client.channel().queue_declare("pq", arguments={"x-max-priority": 5})
    client.publish("", "pq", b"high", properties=Basic.Properties(priority=5, expiration="100000"))
    client.publish("", "pq", b"low", properties=Basic.Properties(priority=1, expiration="10"))
    assert broker.next_deadline() == clock.now + 100
    clock.advance(1)
    broker.run_timers()
    assert count(client, "pq") == 2
    got = client.channel().basic_get("pq", no_ack=True)
    assert got is not None
    assert got.message.body == b"high"
    assert client.channel().basic_get("pq", no_ack=True) is None


def test_requeue_into_full_drop_head_queue_drops_the_head(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q", arguments={"x-max-length": 1})
    client.publish("", "q", b"A")
    got = ch.basic_get("q")
    assert got is not None
    client.publish("", "q", b"B")
    ch.basic_reject(got.delivery_tag, requeue=True)
    assert [m.body for m in client.broker.snapshot().queues["q"].messages] == [b"B"]


def test_max_length_zero_still_reaches_a_ready_consumer(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q", arguments={"x-max-length": 0})
    client.call(ch.basic_consume, "q", "c", no_ack=True)
    client.publish("", "q", b"m")
    assert [d.message.body for d in client.deliveries()] == [b"m"]


def test_a_queue_whose_deadlines_ended_gets_one_again(
    client: Client, clock: FakeClock, broker: BrokerModel
) -> None:
    ch = client.channel()
    ch.queue_declare("q", arguments={"x-message-ttl": 1000})
    assert broker.next_deadline() is None  # empty: nothing to expire
    client.publish("", "q", b"a")
    assert broker.next_deadline() == clock.now + 1
    got = ch.basic_get("q")
    assert got is not None
    assert broker.next_deadline() is None
    ch.basic_reject(got.delivery_tag, requeue=True)  # back at the head, same expiry
    assert broker.next_deadline() == clock.now + 1


def test_next_deadline_looks_only_at_queues_that_may_have_one(
    client: Client, broker: BrokerModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    ch = client.channel()
    for index in range(100):
        ch.queue_declare(f"plain{index}")
        client.call(ch.basic_consume, f"plain{index}", f"c{index}")
    ch.queue_declare("idle", arguments={"x-expires": 5000})
    looked_at: list[str] = []
    real = Queue.next_deadline

    def counting(queue: Queue) -> float | None:
        looked_at.append(queue.name)
        return real(queue)

    monkeypatch.setattr(Queue, "next_deadline", counting)
    assert broker.next_deadline() is not None
    assert looked_at == ["idle"]
    client.call(ch.basic_consume, "idle", "keeps-it")
    assert broker.next_deadline() is None
    looked_at.clear()
    client.publish("", "plain0", b"m")  # no TTL: no deadline to look at
    assert broker.next_deadline() is None
    assert looked_at == []
