"""kombu (sync, py-amqp transport) against the fake broker, through the threaded fixture.

The workflows Celery-style code uses: declared exchanges and queues,
producers with serializers and headers, consumers draining events with
acknowledgements, SimpleQueue, and publisher confirms.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.message import Message

from async_amqp_testing import BlockingFakeBroker


@pytest.fixture
def connection(fake_broker: BlockingFakeBroker) -> Iterator[Connection]:
    with Connection(fake_broker.url, connect_timeout=5) as conn:
        conn.connect()
        yield conn


def test_produce_and_consume_with_routing(
    fake_broker: BlockingFakeBroker, connection: Connection
) -> None:
    exchange = Exchange("tasks", type="direct", durable=True)
    queue = Queue("tasks.high", exchange, routing_key="high")
    producer = connection.Producer()
    producer.publish(
        {"task": "add", "args": [2, 3]},
        exchange=exchange,
        routing_key="high",
        declare=[queue],
        serializer="json",
        headers={"retries": 0},
    )
    received: list[tuple[Any, dict[str, Any]]] = []

    def on_message(body: Any, message: Message) -> None:
        received.append((body, message.headers))
        message.ack()

    with connection.Consumer(queue, callbacks=[on_message]):
        connection.drain_events(timeout=5)
    assert received == [({"task": "add", "args": [2, 3]}, {"retries": 0})]
    assert fake_broker.queue("tasks.high").message_count == 0
    assert fake_broker.unacked() == []


def test_simple_queue(connection: Connection) -> None:
    queue = connection.SimpleQueue("simple")
    try:
        queue.put({"hello": "world"})
        queue.put("second", serializer="json")
        first = queue.get(block=True, timeout=5)
        assert first.payload == {"hello": "world"}
        first.ack()
        second = queue.get(block=True, timeout=5)
        assert second.payload == "second"
        second.ack()
        with pytest.raises(queue.Empty):
            queue.get(block=False)
    finally:
        queue.close()


def test_fanout_to_two_queues_and_reject(
    fake_broker: BlockingFakeBroker, connection: Connection
) -> None:
    exchange = Exchange("broadcast", type="fanout")
    first = Queue("listener-1", exchange)
    second = Queue("listener-2", exchange)
    producer = connection.Producer()
    producer.publish("news", exchange=exchange, declare=[first, second])
    bodies: list[str] = []

    def on_message(body: str, message: Message) -> None:
        bodies.append(body)
        message.reject(requeue=False)

    with connection.Consumer([first, second], callbacks=[on_message]):
        while len(bodies) < 2:
            connection.drain_events(timeout=5)
    assert bodies == ["news", "news"]
    assert fake_broker.queue("listener-1").message_count == 0
    assert fake_broker.queue("listener-2").message_count == 0


def test_publisher_confirms(fake_broker: BlockingFakeBroker) -> None:
    with Connection(fake_broker.url, transport_options={"confirm_publish": True}) as conn:
        queue = Queue("confirmed")
        producer = conn.Producer()
        producer.publish("one", routing_key="confirmed", declare=[queue])
        producer.publish("two", routing_key="confirmed")
        # confirm_publish makes each publish wait for the broker's ack: both are in.
        assert fake_broker.queue("confirmed").message_count == 2
