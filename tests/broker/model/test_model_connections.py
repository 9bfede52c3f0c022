"""Users, vhosts, connections, direct reply-to and fault injection."""

from __future__ import annotations

import random
import re

from pamqp.commands import Basic

from async_amqp_testing._model import BrokerModel, CancelNotify, Deliver, Return
from async_amqp_testing._model.message import PropertyList, PropertySlot

from .modelkit import Client, FakeClock, raises, raw_props_with_headers


def test_authentication_and_vhost_access(clock: FakeClock) -> None:
    broker = BrokerModel(
        clock,
        users={"guest": "guest", "bob": "pw"},
        vhosts=("/", "v2"),
        permissions={"guest": ["/"], "bob": ["v2"]},
    )
    assert broker.authenticate("guest", "guest")
    assert not broker.authenticate("guest", "nope")
    assert not broker.authenticate("nobody", "guest")
    assert broker.vhost_exists("v2")
    assert not broker.vhost_exists("v3")
    assert broker.can_access("bob", "v2")
    assert not broker.can_access("bob", "/")
    err = raises(
        530, "NOT_ALLOWED - vhost v3 not found", broker.open_connection, "guest", "v3", {}, {}
    )
    assert err.is_connection_error
    raises(
        530,
        "NOT_ALLOWED - access to vhost '/' refused for user 'bob'",
        broker.open_connection,
        "bob",
        "/",
        {},
        {},
    )
    connection = broker.open_connection("bob", "v2", {}, {"product": "test"})
    channel = connection.open_channel(1)
    channel.queue_declare("q")
    assert "q" in broker.snapshot("v2").queues
    assert "q" not in broker.snapshot("/").queues
    (info,) = broker.connection_snapshots()
    assert (info.user, info.vhost, info.client_properties) == ("bob", "v2", {"product": "test"})


def test_default_users_and_builtins() -> None:
    broker = BrokerModel()
    assert broker.authenticate("guest", "guest")
    assert broker.can_access("guest", "/")
    exchanges = broker.snapshot().exchanges
    assert {
        "",
        "amq.direct",
        "amq.fanout",
        "amq.topic",
        "amq.headers",
        "amq.match",
        "amq.rabbitmq.trace",
    } == set(exchanges)
    assert all(x.durable for x in exchanges.values())
    assert exchanges["amq.rabbitmq.trace"].internal
    assert exchanges["amq.rabbitmq.trace"].type == "topic"


def test_publish_user_id_uses_login(clock: FakeClock) -> None:
    broker = BrokerModel(clock, users={"bob": "pw"})
    client = Client(broker, user="bob")
    client.channel().queue_declare("q")
    client.publish("", "q", properties=Basic.Properties(user_id="bob"))
    raises(
        406,
        "PRECONDITION_FAILED - user_id property set to 'guest' but authenticated user was 'bob'",
        client.publish,
        "",
        "q",
        channel_id=2,
        properties=Basic.Properties(user_id="guest"),
    )


def test_connection_close_requeues_cancels_and_deletes_exclusive(
    client: Client, other: Client, broker: BrokerModel
) -> None:
    ch = client.channel()
    ch.queue_declare("shared")
    ch.queue_declare("excl", exclusive=True)
    ch.queue_declare("ad", auto_delete=True)
    for body in (b"1", b"2"):
        client.publish("", "shared", body)
    client.call(ch.basic_consume, "shared", "c")
    client.call(client.channel(2).basic_consume, "ad", "c2")
    assert len(client.deliveries()) == 2
    client.connection.close()
    snapshot = broker.snapshot()
    assert set(snapshot.queues) == {"shared"}
    assert [(m.body, m.redelivered) for m in snapshot.queues["shared"].messages] == [
        (b"1", True),
        (b"2", True),
    ]
    assert snapshot.queues["shared"].consumers == ()
    assert broker.connection_snapshots()[0].connection_id == other.connection.connection_id


def test_server_side_cancel_hook(client: Client, broker: BrokerModel) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    client.call(ch.basic_consume, "q", "a")
    client.call(ch.basic_consume, "q", "b")
    assert broker.cancel_consumer("/", "q", "a") == 1
    assert client.events() == [CancelNotify(1, "a")]
    assert broker.cancel_consumer("/", "q") == 1
    assert client.events() == [CancelNotify(1, "b")]
    assert broker.cancel_consumer("/", "missing") == 0
    ch.basic_cancel("a")


def test_inspection_snapshot(client: Client, broker: BrokerModel) -> None:
    ch = client.channel()
    ch.exchange_declare("x", "topic", arguments={"k": "v"})
    ch.queue_declare("q", arguments={"x-max-priority": 3})
    ch.queue_bind("q", "x", "a.#")
    client.publish("x", "a.b", b"m", properties=Basic.Properties(content_type="text/plain"))
    client.publish("x", "a.c", b"n")
    client.call(client.channel(2).basic_get, "q")
    ch.basic_qos(prefetch_count=5)
    client.call(ch.basic_consume, "q", "c")
    snapshot = broker.snapshot()
    binding = snapshot.exchanges["x"].bindings[0]
    assert (binding.destination_kind, binding.destination, binding.routing_key) == (
        "queue",
        "q",
        "a.#",
    )
    queue = snapshot.queues["q"]
    assert queue.message_count == 0
    assert queue.unacked_count == 2
    assert queue.consumers[0].consumer_tag == "c"
    assert queue.consumers[0].prefetch_count == 5
    (connection,) = broker.connection_snapshots()
    channels = {c.channel_id: c for c in connection.channels}
    assert channels[1].consumer_tags == ("c",)
    assert [u.body for u in channels[1].unacked] == [b"n"]
    assert [(u.delivery_tag, u.consumer_tag) for u in channels[2].unacked] == [(1, None)]


def test_direct_reply_to(client: Client, other: Client) -> None:
    requester = client.channel()
    raises(
        406,
        "PRECONDITION_FAILED - fast reply consumer does not exist",
        client.publish,
        "",
        "rpc",
        raw_properties=raw_props_with_headers([], reply_to=b"amq.rabbitmq.reply-to"),
    )
    requester = client.channel(2)
    raises(
        406,
        "PRECONDITION_FAILED - reply consumer cannot acknowledge",
        requester.basic_consume,
        "amq.rabbitmq.reply-to",
        "",
    )
    requester = client.channel(3)
    tag = client.call(requester.basic_consume, "amq.rabbitmq.reply-to", "", no_ack=True)
    assert requester.queue_declare("amq.rabbitmq.reply-to", passive=True) == (
        "amq.rabbitmq.reply-to",
        0,
        1,
    )
    other.channel().queue_declare("rpc")
    client.publish(
        "",
        "rpc",
        b"request",
        channel_id=3,
        raw_properties=raw_props_with_headers([], reply_to=b"amq.rabbitmq.reply-to"),
    )
    request = other.channel().basic_get("rpc", no_ack=True)
    assert request is not None
    reply_to = request.message.properties.reply_to
    assert reply_to is not None
    assert re.fullmatch(r"amq\.rabbitmq\.reply-to\.\S+", reply_to)
    props = PropertyList.parse(request.message.raw_properties)
    assert props.shortstr(PropertySlot.REPLY_TO) == reply_to.encode()
    other.publish("", reply_to, b"response", mandatory=True)
    # The reply is delivered *and* returned to the responder (observed on RabbitMQ 3.10).
    assert [type(e) for e in other.events()] == [Return]
    (delivery,) = client.events()
    assert isinstance(delivery, Deliver)
    assert (
        delivery.consumer_tag,
        delivery.exchange,
        delivery.routing_key,
        delivery.message.body,
    ) == (tag, "", reply_to, b"response")
    other.publish("", reply_to + "x", b"bogus", mandatory=True)
    other.publish("", "amq.rabbitmq.reply-to", b"bare", mandatory=True)
    assert [type(e) for e in other.events()] == [Return, Return]
    assert client.events() == []
    client.connection.close_channel(3)
    other.publish("", reply_to, b"late")
    assert client.events() == []


def test_reply_consumer_cancel(client: Client) -> None:
    ch = client.channel()
    tag = ch.basic_consume("amq.rabbitmq.reply-to", "r", no_ack=True)
    raises(530, "NOT_ALLOWED - attempt to reuse consumer tag 'r'", ch.basic_consume, "q", tag)
    ch = client.channel(2)
    ch.basic_consume("amq.rabbitmq.reply-to", "r", no_ack=True)
    ch.basic_cancel("r")
    raises(
        406,
        "PRECONDITION_FAILED - fast reply consumer does not exist",
        client.publish,
        "",
        "x",
        channel_id=2,
        raw_properties=raw_props_with_headers([], reply_to=b"amq.rabbitmq.reply-to"),
    )


def test_seeded_names_are_reproducible(clock: FakeClock) -> None:
    names = []
    for _ in range(2):
        broker = BrokerModel(clock, rng=random.Random(1))
        names.append(broker.open_connection("guest", "/").open_channel(1).queue_declare("")[0])
    assert names[0] == names[1]


def test_second_reply_consumer_is_refused(client: Client) -> None:
    ch = client.channel()
    ch.basic_consume("amq.rabbitmq.reply-to", "r1", no_ack=True)
    raises(
        406,
        "PRECONDITION_FAILED - reply consumer already set",
        ch.basic_consume,
        "amq.rabbitmq.reply-to",
        "r2",
        no_ack=True,
    )
    raises(
        404,
        "NOT_FOUND - no queue 'amq.rabbitmq.reply-to' in vhost '/'",
        client.channel(2).basic_get,
        "amq.rabbitmq.reply-to",
    )


def test_cancel_hook_deletes_auto_delete_queue(client: Client, broker: BrokerModel) -> None:
    quiet = Client(broker, cancel_notify=False)
    ch = quiet.channel()
    ch.queue_declare("ad", auto_delete=True)
    quiet.call(ch.basic_consume, "ad", "c")
    assert broker.cancel_consumer("/", "ad", "c") == 1
    assert quiet.events() == []
    assert "ad" not in broker.snapshot().queues


def test_inline_events_wake_the_writer(client: Client) -> None:
    client.channel().confirm_select()
    before = client.wakeups
    client.publish("amq.direct", "nowhere", mandatory=True)
    assert client.wakeups == before + 2  # the return, then the ack
    assert [type(e).__name__ for e in client.events()] == ["Return", "PublisherAck"]


def test_closed_connection_gets_nothing(client: Client, other: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    client.call(ch.basic_consume, "q", "c", no_ack=True)
    client.connection.close()
    other.publish("", "q")
    assert client.events() == []
    assert other.channel().queue_declare("q", passive=True) == ("q", 1, 0)
