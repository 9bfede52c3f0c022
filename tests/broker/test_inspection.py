"""The FakeBroker's read-only inspection API, and its administration methods.

Snapshots must reflect what clients did (exchanges, bindings, queues with
their messages and properties, consumers, unacked deliveries, connections)
and must not change when the broker state changes afterwards.
"""

from __future__ import annotations

import pytest

import async_amqp
from async_amqp_testing import Binding, FakeBroker


async def test_queues_messages_and_properties(fake_broker: FakeBroker) -> None:
    async with fake_broker.connect() as conn, conn.new_channel() as channel:
        await channel.queue_declare("orders", durable=True, arguments={"x-max-priority": 5})
        await channel.publish(
            b'{"id": 1}',
            "",
            "orders",
            properties={"content_type": "application/json", "headers": {"n": 1}, "priority": 3},
        )
        await channel.queue_declare("orders", passive=True)  # a barrier: the publish is in
        queue = fake_broker.queue("orders")
        assert queue.durable
        assert queue.message_count == 1
        (message,) = queue.messages
        assert message.body == b'{"id": 1}'
        assert message.exchange == ""
        assert message.routing_key == "orders"
        assert message.properties.content_type == "application/json"
        assert message.properties.headers == {"n": 1}
        assert message.properties.priority == 3
        assert fake_broker.messages("orders") == queue.messages


async def test_snapshots_do_not_change_afterwards(fake_broker: FakeBroker) -> None:
    async with fake_broker.connect() as conn, conn.new_channel() as channel:
        await channel.queue_declare("q")
        before = fake_broker.queue("q")
        await channel.publish(b"x", "", "q")
        await channel.queue_declare("q", passive=True)
        assert before.message_count == 0
        assert fake_broker.queue("q").message_count == 1


async def test_exchanges_and_bindings(fake_broker: FakeBroker) -> None:
    async with fake_broker.connect() as conn, conn.new_channel() as channel:
        await channel.exchange_declare("events", "topic", durable=True)
        await channel.exchange_declare("audit", "fanout")
        await channel.queue_declare("log")
        await channel.queue_bind("log", "events", "user.*")
        await channel.exchange_bind("audit", "events", "#")
    exchanges = fake_broker.exchanges()
    assert {"", "amq.direct", "amq.topic", "events", "audit"} <= set(exchanges)
    assert fake_broker.exchange("events").type == "topic"
    assert fake_broker.exchange("events").durable
    bindings = [b for b in fake_broker.bindings() if b.source == "events"]
    assert sorted(bindings, key=lambda b: b.destination) == [
        Binding("events", "exchange", "audit", "#", {}),
        Binding("events", "queue", "log", "user.*", {}),
    ]
    with pytest.raises(KeyError):
        fake_broker.exchange("missing")
    with pytest.raises(KeyError):
        fake_broker.queue("missing")


async def test_consumers_unacked_and_connections(fake_broker: FakeBroker) -> None:
    async with fake_broker.connect(client_properties={"connection_name": "worker"}) as conn:
        async with conn.new_channel() as channel:
            await channel.queue_declare("jobs")
            await channel.publish(b"job-1", "", "jobs")
            await channel.basic_qos(prefetch_count=1)
            async with channel.new_consumer("jobs", consumer_tag="w1") as consumer:
                async for body, envelope, _properties in consumer:
                    assert body == b"job-1"
                    (connection,) = fake_broker.connections()
                    assert connection.user == "guest"
                    assert connection.vhost == "/"
                    assert connection.client_properties["connection_name"] == "worker"
                    (unacked,) = fake_broker.unacked()
                    assert (unacked.queue, unacked.consumer_tag, unacked.body) == (
                        "jobs",
                        "w1",
                        b"job-1",
                    )
                    (consumer_info,) = fake_broker.queue("jobs").consumers
                    assert consumer_info.consumer_tag == "w1"
                    assert consumer_info.prefetch_count == 1
                    assert fake_broker.queue("jobs").unacked_count == 1
                    await channel.basic_ack(envelope.delivery_tag)
                    break
            await channel.queue_declare("jobs", passive=True)
            assert fake_broker.unacked() == []


@pytest.mark.fake_broker(users={"alice": "secret", "bob": "pw"}, vhosts=["/", "staging"])
async def test_marker_configures_users_and_vhosts(fake_broker: FakeBroker) -> None:
    assert fake_broker.url == f"amqp://alice:secret@127.0.0.1:{fake_broker.port}/"
    async with fake_broker.connect(login="bob", password="pw", virtualhost="staging") as conn:
        async with conn.new_channel() as channel:
            await channel.queue_declare("staged")
    assert "staged" in fake_broker.queues("staging")
    assert "staged" not in fake_broker.queues("/")
    with pytest.raises(async_amqp.AuthenticationError):
        async with fake_broker.connect(login="guest", password="guest"):
            pass


@pytest.mark.fake_broker(
    users={"alice": "secret", "bob": "pw"}, vhosts=["/", "private"], permissions={"bob": ["/"]}
)
async def test_permissions_refuse_a_vhost(fake_broker: FakeBroker) -> None:
    with pytest.raises(async_amqp.NotAllowedError) as caught:
        async with fake_broker.connect(login="bob", password="pw", virtualhost="private"):
            pass
    assert (
        caught.value.reply_text == "NOT_ALLOWED - access to vhost 'private' refused for user 'bob'"
    )


async def test_users_and_vhosts_can_be_added_while_serving(fake_broker: FakeBroker) -> None:
    fake_broker.add_vhost("later")
    fake_broker.add_user("carol", "pw")
    async with fake_broker.connect(login="carol", password="pw", virtualhost="later") as conn:
        async with conn.new_channel() as channel:
            await channel.queue_declare("q")
    assert "q" in fake_broker.queues("later")


async def test_url_and_address() -> None:
    broker = FakeBroker(users={"us er": "p@ss/word"})
    with pytest.raises(RuntimeError):
        broker.port  # noqa: B018 - not serving yet
    async with broker.serve():
        assert broker.host == "127.0.0.1"
        assert broker.url == f"amqp://us%20er:p%40ss%2Fword@127.0.0.1:{broker.port}/"
        async with async_amqp.connect_from_url(broker.url) as conn, conn.new_channel():
            pass


async def test_a_stream_lists_its_log_and_a_quorum_queue_its_ready_messages(
    fake_broker: FakeBroker,
) -> None:
    async with fake_broker.connect() as conn, conn.new_channel() as channel:
        await channel.queue_declare("log", durable=True, arguments={"x-queue-type": "stream"})
        await channel.queue_declare("work", durable=True, arguments={"x-queue-type": "quorum"})
        await channel.confirm_select()
        for body in (b"a", b"b"):
            await channel.publish(body, "", "log")
            await channel.publish(body, "", "work")
        await channel.basic_get("work", no_ack=True)
        assert (await channel.queue_declare("log", passive=True) or {})["message_count"] == 0
    # the stream keeps everything, as stored: with its x-stream-offset header
    log = fake_broker.messages("log")
    assert [(m.body, (m.properties.headers or {})["x-stream-offset"]) for m in log] == [
        (b"a", 0),
        (b"b", 1),
    ]
    assert [m.body for m in fake_broker.messages("work")] == [b"b"]
