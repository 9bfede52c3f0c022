"""pika (sync, BlockingConnection) against the fake broker, through the threaded fixture.

Realistic workflows: topic routing, properties and headers, ack, publisher
confirms and mandatory returns, RPC with reply_to/correlation_id (a queue and
direct reply-to), large messages and qos.
"""

from __future__ import annotations

from collections.abc import Iterator

import pika
import pika.exceptions
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from async_amqp_testing import BlockingFakeBroker


@pytest.fixture
def pika_connection(fake_broker: BlockingFakeBroker) -> Iterator[pika.BlockingConnection]:
    connection = pika.BlockingConnection(pika.URLParameters(fake_broker.url))
    try:
        yield connection
    finally:
        if connection.is_open:
            connection.close()


@pytest.fixture
def channel(pika_connection: pika.BlockingConnection) -> BlockingChannel:
    return pika_connection.channel()


def test_topic_routing_with_properties_and_headers(
    fake_broker: BlockingFakeBroker, channel: BlockingChannel
) -> None:
    channel.exchange_declare("events", exchange_type="topic", durable=True)
    channel.queue_declare("user-events")
    channel.queue_bind("user-events", "events", routing_key="user.*")
    properties = pika.BasicProperties(
        content_type="application/json",
        headers={"attempt": 1, "tags": ["a", "b"], "nested": {"ok": True}},
        delivery_mode=2,
        message_id="m-1",
        priority=4,
    )
    channel.basic_publish("events", "user.created", b'{"id": 7}', properties)
    channel.basic_publish("events", "order.created", b"not for us")
    method, received, body = channel.basic_get("user-events", auto_ack=True)
    assert method is not None
    assert body == b'{"id": 7}'
    assert method.routing_key == "user.created"
    assert method.exchange == "events"
    assert received.content_type == "application/json"
    assert received.headers == {"attempt": 1, "tags": ["a", "b"], "nested": {"ok": True}}
    assert received.delivery_mode == 2
    assert received.message_id == "m-1"
    assert received.priority == 4
    assert channel.basic_get("user-events")[0] is None
    assert fake_broker.queue("user-events").message_count == 0


def test_consume_and_ack(fake_broker: BlockingFakeBroker, channel: BlockingChannel) -> None:
    channel.queue_declare("work")
    for number in range(5):
        channel.basic_publish("", "work", str(number).encode())
    channel.basic_qos(prefetch_count=2)
    bodies = []
    for method, _properties, body in channel.consume("work", inactivity_timeout=5):
        assert method is not None, "a delivery was expected"
        bodies.append(body)
        channel.basic_ack(method.delivery_tag)
        if len(bodies) == 5:
            break
    channel.cancel()
    assert bodies == [b"0", b"1", b"2", b"3", b"4"]
    assert fake_broker.unacked() == []


def test_nack_requeues_with_redelivered(channel: BlockingChannel) -> None:
    channel.queue_declare("retry")
    channel.basic_publish("", "retry", b"again")
    method, _, _ = channel.basic_get("retry")
    assert method is not None
    assert not method.redelivered
    channel.basic_nack(method.delivery_tag, requeue=True)
    method, _, body = channel.basic_get("retry", auto_ack=True)
    assert method is not None
    assert method.redelivered
    assert body == b"again"


def test_confirms_and_mandatory_returns(channel: BlockingChannel) -> None:
    channel.confirm_delivery()
    channel.queue_declare("confirmed")
    channel.basic_publish("", "confirmed", b"ok", mandatory=True)
    with pytest.raises(pika.exceptions.UnroutableError):
        channel.basic_publish("", "no-such-queue", b"lost", mandatory=True)
    assert channel.queue_declare("confirmed", passive=True).method.message_count == 1


def test_publish_to_a_missing_exchange_closes_the_channel(
    pika_connection: pika.BlockingConnection,
) -> None:
    channel = pika_connection.channel()
    channel.confirm_delivery()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as caught:
        channel.basic_publish("missing-exchange", "rk", b"x")
    assert caught.value.reply_code == 404
    assert caught.value.reply_text == "NOT_FOUND - no exchange 'missing-exchange' in vhost '/'"
    assert pika_connection.channel().queue_declare("", exclusive=True).method.queue


def test_rpc_with_reply_queue_and_correlation_id(
    fake_broker: BlockingFakeBroker, pika_connection: pika.BlockingConnection
) -> None:
    client = pika_connection.channel()
    server_connection = pika.BlockingConnection(pika.URLParameters(fake_broker.url))
    server = server_connection.channel()
    try:
        server.queue_declare("rpc")
        callback_queue = client.queue_declare("", exclusive=True).method.queue
        client.basic_publish(
            "",
            "rpc",
            b"21",
            pika.BasicProperties(reply_to=callback_queue, correlation_id="c-1"),
        )
        server.queue_declare("rpc", passive=True)
        method, request, body = server.basic_get("rpc", auto_ack=True)
        assert method is not None
        server.basic_publish(
            "",
            request.reply_to,
            str(int(body) * 2).encode(),
            pika.BasicProperties(correlation_id=request.correlation_id),
        )
        server.queue_declare("rpc", passive=True)
        method, reply, answer = client.basic_get(callback_queue, auto_ack=True)
        assert method is not None
        assert reply.correlation_id == "c-1"
        assert answer == b"42"
    finally:
        server_connection.close()


def test_rpc_with_direct_reply_to(
    fake_broker: BlockingFakeBroker, pika_connection: pika.BlockingConnection
) -> None:
    client = pika_connection.channel()
    replies: list[bytes] = []
    client.basic_consume(
        "amq.rabbitmq.reply-to",
        lambda ch, method, properties, body: replies.append(body),
        auto_ack=True,
    )
    client.queue_declare("rpc-direct")
    client.basic_publish(
        "", "rpc-direct", b"ping", pika.BasicProperties(reply_to="amq.rabbitmq.reply-to")
    )
    server_connection = pika.BlockingConnection(pika.URLParameters(fake_broker.url))
    try:
        server = server_connection.channel()
        server.queue_declare("rpc-direct", passive=True)
        method, request, _ = server.basic_get("rpc-direct", auto_ack=True)
        assert method is not None
        assert request.reply_to.startswith("amq.rabbitmq.reply-to.")
        server.basic_publish("", request.reply_to, b"pong")
        server.queue_declare("rpc-direct", passive=True)
    finally:
        server_connection.close()
    pika_connection.process_data_events(time_limit=5)
    assert replies == [b"pong"]


def test_large_message(channel: BlockingChannel) -> None:
    body = bytes(range(256)) * 8192  # 2 MiB, 17 body frames
    channel.queue_declare("large")
    channel.basic_publish("", "large", body)
    method, _, received = channel.basic_get("large", auto_ack=True)
    assert method is not None
    assert received == body


def test_empty_body_and_exclusive_queue(channel: BlockingChannel) -> None:
    queue = channel.queue_declare("", exclusive=True).method.queue
    assert queue.startswith("amq.gen-")
    channel.basic_publish("", queue, b"")
    method, _, body = channel.basic_get(queue, auto_ack=True)
    assert method is not None
    assert body == b""
