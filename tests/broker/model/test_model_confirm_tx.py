"""Publisher confirms and transactions."""

from __future__ import annotations

from async_amqp_testing._model import PublisherAck, Return

from .modelkit import Client, raises


def test_confirm_sequence_starts_at_select(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    ch.queue_declare("q2")
    ch.queue_bind("q", "amq.fanout")
    ch.queue_bind("q2", "amq.fanout")
    client.publish("", "q")  # before select: not counted
    ch.confirm_select()
    ch.confirm_select()
    client.publish("amq.fanout", "")  # reaches two queues: one ack
    client.publish("", "nowhere")  # unroutable: acked too
    assert client.events() == [PublisherAck(1, 1, False), PublisherAck(1, 2, False)]


def test_publish_to_missing_exchange_gets_no_confirm(client: Client) -> None:
    ch = client.channel()
    ch.confirm_select()
    raises(404, "NOT_FOUND - no exchange 'nope' in vhost '/'", client.publish, "nope", "k")
    assert client.events() == []


def test_mode_conflicts(client: Client) -> None:
    ch = client.channel()
    ch.tx_select()
    ch.tx_select()
    raises(406, "PRECONDITION_FAILED - cannot switch from tx to confirm mode", ch.confirm_select)
    ch = client.channel(2)
    ch.confirm_select()
    raises(406, "PRECONDITION_FAILED - cannot switch from confirm to tx mode", ch.tx_select)
    for index, method in enumerate(("tx_commit", "tx_rollback"), start=3):
        raises(
            406,
            "PRECONDITION_FAILED - channel is not transactional",
            getattr(client.channel(index), method),
        )


def test_tx_buffers_publishes_until_commit(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    ch.tx_select()
    client.publish("", "q", b"1")
    client.publish("amq.direct", "nowhere", b"r", mandatory=True)
    assert ch.queue_declare("q", passive=True)[1] == 0
    assert client.events() == []
    raises(404, "NOT_FOUND - no exchange 'nope' in vhost '/'", client.publish, "nope", "k")
    ch = client.channel(2)
    ch.tx_select()
    client.publish("", "q", b"a", channel_id=2)
    client.publish("amq.direct", "nowhere", b"r", channel_id=2, mandatory=True)
    ch.tx_commit()  # returns are produced during commit, before commit-ok
    (ret,) = client.events()
    assert isinstance(ret, Return)
    assert ret.message.body == b"r"
    assert ch.queue_declare("q", passive=True)[1] == 1
    client.publish("", "q", b"b", channel_id=2)
    ch.tx_rollback()
    ch.tx_commit()  # empty commit
    assert ch.queue_declare("q", passive=True)[1] == 1


def test_tx_deliveries_follow_commit(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    client.call(ch.basic_consume, "q", "c", no_ack=True)
    ch.tx_select()
    client.publish("", "q", b"1")
    assert client.events() == []
    client.call(ch.tx_commit)
    assert [d.message.body for d in client.deliveries()] == [b"1"]


def test_tx_acks_are_buffered_and_rollback_leaves_them_unacked(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    for _ in range(3):
        client.publish("", "q")
    ch.tx_select()
    tags = [g.delivery_tag for g in (ch.basic_get("q"), ch.basic_get("q"), ch.basic_get("q")) if g]
    ch.basic_ack(tags[0])
    ch.basic_reject(tags[1], requeue=True)
    assert client.broker.snapshot().queues["q"].unacked_count == 3
    raises(406, f"PRECONDITION_FAILED - unknown delivery tag {tags[0]}", ch.basic_ack, tags[0])
    ch = client.channel()
    client.connection.close_channel(1)
    assert client.broker.snapshot().queues["q"].message_count == 3
    ch = client.channel(2)
    ch.tx_select()
    tags = [g.delivery_tag for g in (ch.basic_get("q"), ch.basic_get("q")) if g]
    ch.basic_ack(tags[1])
    ch.tx_rollback()
    assert sorted(ch.unacked) == tags
    ch.basic_ack(tags[1])
    ch.basic_ack(tags[0], multiple=False)
    ch.tx_commit()
    snapshot = client.broker.snapshot().queues["q"]
    assert (snapshot.message_count, snapshot.unacked_count) == (1, 0)


def test_tx_commit_applies_requeue_and_reject(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    client.publish("", "q", b"a")
    client.publish("", "q", b"b")
    ch.tx_select()
    first, second = ch.basic_get("q"), ch.basic_get("q")
    assert first
    assert second
    ch.basic_nack(first.delivery_tag, requeue=True)
    ch.basic_nack(second.delivery_tag, requeue=False)
    assert ch.queue_declare("q", passive=True)[1] == 0
    ch.tx_commit()
    assert [m.body for m in client.broker.snapshot().queues["q"].messages] == [b"a"]
