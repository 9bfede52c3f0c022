"""The pure restart operation: what survives, as observed on RabbitMQ 3.10.8.

The scenario is the one run against a real node (stopped with its whole cluster,
then started; see docs/testing.rst, "What a restart keeps"): the expected state
below is what that RabbitMQ held afterwards.
"""

from __future__ import annotations

from pamqp.commands import Basic

from async_amqp_testing._model import BrokerModel, Deliver

from .modelkit import Client, FakeClock

PERSISTENT = Basic.Properties(delivery_mode=2)
TRANSIENT = Basic.Properties(delivery_mode=1)


def _declare_everything(client: Client) -> str:
    channel = client.channel()
    channel.exchange_declare("dx", "direct", durable=True)
    channel.exchange_declare("dx2", "fanout", durable=True)
    channel.exchange_declare("tx", "direct", durable=False)
    channel.exchange_declare("dax", "fanout", durable=True, auto_delete=True)
    channel.queue_declare("dq", durable=True)
    channel.queue_declare("tq", durable=False)
    channel.queue_declare("dadq", durable=True, auto_delete=True)
    channel.queue_declare("exq", durable=True, exclusive=True)
    server_named, _, _ = channel.queue_declare("", durable=True)
    channel.queue_bind("dq", "dx", "k")
    channel.queue_bind("tq", "dx", "k")
    channel.queue_bind("dq", "tx", "k")
    channel.exchange_bind("dx2", "dx", "k")
    channel.queue_bind("dq", "dax")
    channel.queue_bind("tq", "dax")
    return server_named


def test_restart_keeps_durable_state_and_drops_transient_state(
    broker: BrokerModel, client: Client, other: Client
) -> None:
    server_named = _declare_everything(client)
    for body, properties in [
        (b"p1", PERSISTENT),
        (b"t1", TRANSIENT),
        (b"p2", PERSISTENT),
        (b"p3", PERSISTENT),
        (b"t2", TRANSIENT),
    ]:
        client.publish("", "dq", body, properties=properties)
    client.publish("", "tq", b"tq-p", properties=PERSISTENT)
    client.publish("", server_named, b"sn-p", properties=PERSISTENT)
    client.publish("", "dadq", b"dad-p", properties=PERSISTENT)
    channel = client.channel()
    gets = [channel.basic_get("dq") for _ in range(3)]
    assert [get.message.body if get else None for get in gets] == [b"p1", b"t1", b"p2"]
    third = gets[2]
    assert third is not None
    client.call(channel.basic_reject, third.delivery_tag, True)
    client.call(other.channel().basic_consume, "dadq")
    assert [d.message.body for d in other.deliveries()] == [b"dad-p"]

    broker.restart()

    assert broker.connections == {}
    snapshot = broker.snapshot()
    assert set(snapshot.queues) == {"dq", server_named}
    assert {"dx", "dx2", "dax"} <= set(snapshot.exchanges)
    assert "tx" not in snapshot.exchanges
    bindings = {
        (source, b.destination, b.routing_key)
        for source, exchange in snapshot.exchanges.items()
        for b in exchange.bindings
    }
    assert bindings == {("dx", "dq", "k"), ("dx", "dx2", "k"), ("dax", "dq", "")}
    messages = snapshot.queues["dq"].messages
    assert [(m.body, m.redelivered) for m in messages] == [
        (b"p1", True),
        (b"p2", True),
        (b"p3", False),
    ]
    assert snapshot.queues["dq"].consumers == ()
    assert snapshot.queues["dq"].unacked_count == 0
    assert [(m.body, m.redelivered) for m in snapshot.queues[server_named].messages] == [
        (b"sn-p", False)
    ]


def test_a_restarted_broker_serves_new_connections(broker: BrokerModel, client: Client) -> None:
    client.channel().queue_declare("dq", durable=True)
    client.publish("", "dq", b"kept", properties=PERSISTENT)
    broker.restart()
    assert client.connection.closed
    after = Client(broker)
    after.call(after.channel().basic_consume, "dq", "tag")
    (delivery,) = after.deliveries()
    assert isinstance(delivery, Deliver)
    assert (delivery.message.body, delivery.redelivered) == (b"kept", False)


def test_restart_drops_no_durable_queue_without_consumers_and_restarts_its_lease(
    broker: BrokerModel, client: Client, clock: FakeClock
) -> None:
    channel = client.channel()
    channel.queue_declare("lease", durable=True, arguments={"x-expires": 10_000})
    channel.queue_declare("idle-auto", durable=True, auto_delete=True)
    clock.advance(9)
    broker.restart()
    clock.advance(9)
    broker.run_timers()
    assert {"lease", "idle-auto"} <= set(broker.snapshot().queues)
    clock.advance(1)
    broker.run_timers()
    assert "lease" not in broker.snapshot().queues


def test_restart_keeps_users_vhosts_and_the_builtin_exchanges(clock: FakeClock) -> None:
    broker = BrokerModel(clock, users={"bob": "pw"}, vhosts=("/", "v2"))
    before = set(broker.snapshot("v2").exchanges)
    broker.restart()
    assert broker.authenticate("bob", "pw")
    assert broker.vhost_exists("v2")
    assert set(broker.snapshot("v2").exchanges) == before


def test_an_auto_delete_exchange_that_loses_every_binding_stays(
    broker: BrokerModel, client: Client
) -> None:
    # Observed: a durable auto-delete exchange bound only to a transient queue is still
    # there after the restart, with no bindings (the restart is not an unbind).
    channel = client.channel()
    channel.exchange_declare("lonely", "fanout", durable=True, auto_delete=True)
    channel.queue_declare("lonely-tq")
    channel.queue_bind("lonely-tq", "lonely")
    broker.restart()
    exchanges = broker.snapshot().exchanges
    assert "lonely" in exchanges
    assert exchanges["lonely"].bindings == ()


def test_restart_keeps_every_message_of_quorum_queues_and_streams(
    broker: BrokerModel, client: Client
) -> None:
    channel = client.channel()
    channel.queue_declare("qq", durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_declare("sq", durable=True, arguments={"x-queue-type": "stream"})
    channel.queue_declare("cq", durable=True)
    for queue in ("qq", "sq", "cq"):
        client.publish("", queue, b"persistent", properties=PERSISTENT)
        client.publish("", queue, b"transient", properties=TRANSIENT)

    broker.restart()

    queues = broker.snapshot().queues
    assert [m.body for m in queues["qq"].messages] == [b"persistent", b"transient"]
    assert [m.body for m in queues["sq"].messages] == [b"persistent", b"transient"]
    assert [m.body for m in queues["cq"].messages] == [b"persistent"]
