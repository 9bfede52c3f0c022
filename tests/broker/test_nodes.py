"""``FakeBroker(nodes=N)``: several listeners on one shared state, nodes stopped and started.

Like a RabbitMQ cluster whose queues are replicated: every node serves the same
exchanges, queues and messages; stopping a node closes its port and closes its
clients with 320 (the text RabbitMQ sends when a node shuts down), the other
nodes keep serving; starting it again listens on the same port.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack
from typing import Any

import anyio
import pytest

import async_amqp
from async_amqp_testing import FakeBroker

# A client that is closed while its own task awaits the fault (pika's blocking call,
# or async_amqp's block awaiting restart()) cannot answer the close until the call
# returns, so the broker waits shutdown_timeout for it: keep that short.
pytestmark = pytest.mark.fake_broker(shutdown_timeout=0.25)
QUICK = 0.25
SHUTDOWN = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"


async def test_every_node_serves_the_same_state() -> None:
    async with FakeBroker(nodes=3, shutdown_timeout=QUICK).serve() as broker:
        assert len(set(broker.ports)) == 3
        assert broker.url == broker.urls[0]
        assert [url.rsplit(":", 1)[1] for url in broker.urls] == [f"{p}/" for p in broker.ports]
        async with (
            async_amqp.connect_from_url(broker.urls[0]) as first,
            async_amqp.connect_from_url(broker.urls[1]) as second,
            broker.connect(node=2) as third,
        ):
            await (await first.channel()).queue_declare("nodes.shared")
            publisher = await second.channel()
            await publisher.confirm_select()
            await publisher.publish(b"via node 1", "", "nodes.shared")
            got = await (await third.channel()).basic_get("nodes.shared", no_ack=True)
            assert got["message"] == b"via node 1"
            assert len(broker.connections()) == 3


@pytest.mark.fake_broker(nodes=2)
async def test_stopping_a_node_closes_its_clients_and_refuses_new_ones(
    fake_broker: FakeBroker,
) -> None:
    url_0, url_1 = fake_broker.urls
    async with async_amqp.connect_from_url(url_1) as survivor:
        channel = await survivor.channel()
        await channel.queue_declare("nodes.q")
        with pytest.raises(async_amqp.ConnectionForcedError) as caught:
            async with async_amqp.connect_from_url(url_0) as victim:
                victim_channel = await victim.channel()
                await victim_channel.queue_declare("nodes.exclusive", exclusive=True)
                await fake_broker.stop_node(0)
                with anyio.fail_after(10):
                    await anyio.sleep_forever()
        assert (caught.value.reply_code, caught.value.reply_text) == (320, SHUTDOWN)
        assert not fake_broker.node_running(0)
        assert fake_broker.node_running(1)
        with pytest.raises(OSError):
            async with async_amqp.connect_from_url(url_0):
                pass
        queues = fake_broker.queues()
        assert "nodes.q" in queues
        assert "nodes.exclusive" not in queues  # its connection is gone
        await channel.confirm_select()
        await channel.publish(b"still served", "", "nodes.q")
        assert fake_broker.queue("nodes.q").message_count == 1

        await fake_broker.start_node(0)
        assert fake_broker.urls == [url_0, url_1]
        async with async_amqp.connect_from_url(url_0) as back:
            got = await (await back.channel()).basic_get("nodes.q", no_ack=True)
            assert got["message"] == b"still served"
        await channel.queue_declare("nodes.q", passive=True)  # the survivor never noticed


async def test_unacked_messages_of_a_stopped_node_go_to_consumers_elsewhere() -> None:
    async with FakeBroker(nodes=2, shutdown_timeout=QUICK).serve() as broker:
        async with broker.connect(node=1) as other:
            channel = await other.channel()
            await channel.queue_declare("nodes.work")
            await channel.confirm_select()
            await channel.publish(b"job", "", "nodes.work")
            with pytest.raises(async_amqp.ConnectionForcedError):
                async with broker.connect(node=0) as victim:
                    victim_channel = await victim.channel()
                    await victim_channel.basic_qos(prefetch_count=1)
                    async with victim_channel.new_consumer("nodes.work") as consumer:
                        async for body, envelope, _ in consumer:
                            assert (body, envelope.is_redeliver) == (b"job", False)
                            await broker.stop_node(0)
            async with channel.new_consumer("nodes.work") as consumer:
                with anyio.fail_after(10):
                    async for body, envelope, _ in consumer:
                        assert (body, envelope.is_redeliver) == (b"job", True)
                        await channel.basic_ack(envelope.delivery_tag)
                        break


async def test_restart_keeps_a_stopped_node_stopped() -> None:
    async with FakeBroker(nodes=2, shutdown_timeout=QUICK).serve() as broker:
        await broker.stop_node(1)
        await broker.stop_node(1)  # stopping a stopped node does nothing
        await broker.restart()
        assert (broker.node_running(0), broker.node_running(1)) == (True, False)
        await broker.start_node(1)
        await broker.start_node(1)  # nor does starting a running one
        async with broker.connect(node=1) as conn:
            await conn.channel()


def _consecutive_free_ports(count: int) -> int:
    """A port P such that P .. P+count-1 are free now (bound and released)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        try:
            with ExitStack() as stack:
                for offset in range(count):
                    sock = stack.enter_context(socket.socket())
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.bind(("127.0.0.1", first + offset))
            return first
        except OSError:
            continue
    pytest.skip("no run of free consecutive ports found")


async def test_nodes_listen_on_consecutive_ports_from_the_given_one() -> None:
    first = _consecutive_free_ports(3)
    async with FakeBroker(port=first, nodes=3).serve() as broker:
        assert broker.ports == [first, first + 1, first + 2]


async def test_bad_node_arguments() -> None:
    with pytest.raises(ValueError, match="nodes must be at least 1"):
        FakeBroker(nodes=0)
    with pytest.raises(RuntimeError, match="not serving"):
        await FakeBroker(nodes=2).stop_node(1)
    async with FakeBroker(nodes=2, shutdown_timeout=QUICK).serve() as broker:
        with pytest.raises(IndexError, match="no node 2: this broker has 2 node"):
            await broker.start_node(2)


@pytest.mark.fake_broker(nodes=2)
def test_blocking_nodes_with_pika(fake_broker: Any) -> None:
    pika = pytest.importorskip("pika")
    url_0, url_1 = fake_broker.urls
    victim = pika.BlockingConnection(pika.URLParameters(url_0))
    survivor = pika.BlockingConnection(pika.URLParameters(url_1))
    try:
        survivor.channel().queue_declare("nodes.pika")
        fake_broker.stop_node(0)
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as caught:
            victim.process_data_events(time_limit=5)
        assert (caught.value.reply_code, caught.value.reply_text) == (320, SHUTDOWN)
        with pytest.raises(pika.exceptions.AMQPConnectionError):
            pika.BlockingConnection(pika.URLParameters(url_0))
        survivor.channel().queue_declare("nodes.pika", passive=True)
        assert not fake_broker.node_running(0)
        fake_broker.start_node(0)
        again = pika.BlockingConnection(pika.URLParameters(url_0))
        again.channel().queue_declare("nodes.pika", passive=True)
        again.close()
    finally:
        survivor.close()


@pytest.mark.fake_broker(nodes=2)
async def test_every_node_serves_tls(fake_broker_tls: FakeBroker) -> None:
    assert all(url.startswith("amqps://") for url in fake_broker_tls.urls)
    async with fake_broker_tls.connect(node=1) as conn:
        await (await conn.channel()).queue_declare("nodes.tls")
    await fake_broker_tls.stop_node(1)
    await fake_broker_tls.start_node(1)
    async with fake_broker_tls.connect(node=1) as conn:
        await (await conn.channel()).queue_declare("nodes.tls", passive=True)
