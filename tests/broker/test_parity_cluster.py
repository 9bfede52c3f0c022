"""The fake broker's restart and node faults next to a real RabbitMQ cluster's.

The same scenario runs against ``FakeBroker(nodes=3)`` and against the
throwaway 3-node RabbitMQ 3.10 cluster of ``rabbitmq-cluster.sh``
(127.0.0.1:5681-5683), whose nodes really stop and start. The cluster tests
stop nodes of a cluster other sessions may use and take about a minute, so
they run only with ``ASYNC_AMQP_CLUSTER_FAULTS=1`` and a running cluster;
otherwise they skip with the reason. The main RabbitMQ at 5672 is never
touched. Where the two disagree, the fake broker is wrong.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

import async_amqp
from async_amqp_testing import FakeBroker

SHUTDOWN = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
ENABLE = "ASYNC_AMQP_CLUSTER_FAULTS"
TOOL = Path(os.environ.get("ASYNC_AMQP_CLUSTER_TOOL", "/work/shared/tools/rabbitmq-cluster.sh"))
CLUSTER_PORTS = (5681, 5682, 5683)
PERSISTENT: dict[str, Any] = {"delivery_mode": 2}
TRANSIENT: dict[str, Any] = {"delivery_mode": 1}


@dataclass
class Cluster:
    """Three nodes on one state, and the faults a test can inject."""

    kind: str
    urls: list[str]
    stop_node: Callable[[int], Awaitable[None]]
    start_node: Callable[[int], Awaitable[None]]
    restart: Callable[[], Awaitable[None]]


def cluster_unavailable() -> str | None:
    """Why the real cluster cannot be used by these tests, or None."""
    if os.environ.get(ENABLE) != "1":
        return f"stops nodes of the shared RabbitMQ cluster: set {ENABLE}=1 to run"
    if not TOOL.exists():
        return f"no cluster tool at {TOOL}"
    for port in CLUSTER_PORTS:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                pass
        except OSError as error:
            return f"the RabbitMQ cluster is not running at 127.0.0.1:{port} ({error})"
    return None


async def _tool(*args: str) -> None:
    with anyio.fail_after(300):
        await anyio.run_process([str(TOOL), *args])


async def _real_restart() -> None:
    for node in ("clu3", "clu2", "clu1"):  # every node down: a whole-broker restart
        await _tool("stop-node", node)
    await _tool("start")


@pytest.fixture(params=["fake", "rabbitmq"])
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    """FakeBroker(nodes=3), then the real 3-node cluster."""
    if request.param == "fake":
        async with FakeBroker(nodes=3).serve() as broker:
            yield Cluster("fake", broker.urls, broker.stop_node, broker.start_node, broker.restart)
        return
    reason = cluster_unavailable()
    if reason:
        pytest.skip(reason)

    async def stop(index: int) -> None:
        await _tool("stop-node", f"clu{index + 1}")

    async def start(index: int) -> None:
        await _tool("start-node", f"clu{index + 1}")

    urls = [f"amqp://guest:guest@127.0.0.1:{port}/" for port in CLUSTER_PORTS]
    yield Cluster("rabbitmq", urls, stop, start, _real_restart)


async def test_a_stopped_node_closes_its_clients_and_refuses_connections(
    cluster: Cluster,
) -> None:
    name = f"parity.node.{uuid.uuid4().hex[:12]}"
    async with async_amqp.connect_from_url(cluster.urls[0]) as keeper:
        channel = await keeper.channel()
        await channel.queue_declare(name, durable=True)
        with pytest.raises(async_amqp.ConnectionForcedError) as caught:
            async with async_amqp.connect_from_url(cluster.urls[2]) as victim:
                await victim.channel()
                with anyio.CancelScope(shield=True):
                    await cluster.stop_node(2)
                with anyio.fail_after(30):
                    await anyio.sleep_forever()
        assert (caught.value.reply_code, caught.value.reply_text) == (320, SHUTDOWN)
        with pytest.raises(OSError):
            async with async_amqp.connect_from_url(cluster.urls[2]):
                pass
        await channel.queue_declare(name, passive=True)
        await cluster.start_node(2)
        async with async_amqp.connect_from_url(cluster.urls[2]) as back:
            await (await back.channel()).queue_declare(name, passive=True)
        await channel.queue_delete(name)


async def _exists(conn: async_amqp.AmqpProtocol, kind: str, name: str) -> bool:
    channel = await conn.channel()
    try:
        if kind == "queue":
            await channel.queue_declare(name, passive=True)
        else:
            await channel.exchange_declare(name, passive=True)
    except async_amqp.NotFoundError:
        return False
    await channel.close()
    return True


async def _setup(channel: async_amqp.Channel, p: str) -> str:
    await channel.exchange_declare(f"{p}.dx", "direct", durable=True)
    await channel.exchange_declare(f"{p}.tx", "direct")
    await channel.exchange_declare(f"{p}.dax", "fanout", durable=True, auto_delete=True)
    await channel.queue_declare(f"{p}.dq", durable=True)
    await channel.queue_declare(f"{p}.tq")
    await channel.queue_declare(f"{p}.dadq", durable=True, auto_delete=True)
    await channel.queue_declare(f"{p}.exq", durable=True, exclusive=True)
    declared = await channel.queue_declare("", durable=True)
    assert declared is not None
    await channel.queue_bind(f"{p}.dq", f"{p}.dx", "k")
    await channel.queue_bind(f"{p}.tq", f"{p}.dx", "k")
    await channel.queue_bind(f"{p}.dq", f"{p}.tx", "k")
    await channel.queue_bind(f"{p}.dq", f"{p}.dax")
    await channel.queue_bind(f"{p}.tq", f"{p}.dax")
    await channel.confirm_select()
    for body, properties in [(b"p1", PERSISTENT), (b"t1", TRANSIENT), (b"p2", PERSISTENT)]:
        await channel.publish(body, "", f"{p}.dq", properties)
    await channel.publish(b"p3", "", f"{p}.dq", PERSISTENT)
    await channel.publish(b"sn", "", str(declared["queue"]), PERSISTENT)
    return str(declared["queue"])


async def _drain(channel: async_amqp.Channel, queue: str) -> list[tuple[bytes, bool]]:
    got: list[tuple[bytes, bool]] = []
    while True:
        try:
            message = await channel.basic_get(queue, no_ack=True)
        except async_amqp.EmptyQueueError:
            return got
        got.append((message["message"], message["redelivered"]))


async def test_restart_keeps_what_rabbitmq_keeps(cluster: Cluster) -> None:
    p = f"parity.restart.{uuid.uuid4().hex[:8]}"
    with pytest.raises(async_amqp.ConnectionForcedError) as caught:
        async with async_amqp.connect_from_url(cluster.urls[0]) as conn:
            channel = await conn.channel()
            server_named = await _setup(channel, p)
            assert (await channel.basic_get(f"{p}.dq"))["message"] == b"p1"  # left unacked
            second = await channel.basic_get(f"{p}.dq")  # t1: unacked, transient
            third = await channel.basic_get(f"{p}.dq")
            assert (second["message"], third["message"]) == (b"t1", b"p2")
            await channel.basic_reject(third["delivery_tag"], requeue=True)
            consumer_channel = await conn.channel()
            await consumer_channel.basic_consume(_ignore, f"{p}.dadq")
            with anyio.CancelScope(shield=True):
                await cluster.restart()
            with anyio.fail_after(30):
                await anyio.sleep_forever()
    assert (caught.value.reply_code, caught.value.reply_text) == (320, SHUTDOWN)
    async with async_amqp.connect_from_url(cluster.urls[0]) as conn:
        queues = {q: await _exists(conn, "queue", f"{p}.{q}") for q in ("dq", "tq", "dadq", "exq")}
        exchanges = {x: await _exists(conn, "exchange", f"{p}.{x}") for x in ("dx", "tx", "dax")}
        channel = await conn.channel()
        messages = await _drain(channel, f"{p}.dq")
        server_named_messages = await _drain(channel, server_named)
        await channel.confirm_select()
        await channel.publish(b"via dx", f"{p}.dx", "k")
        await channel.publish(b"via dax", f"{p}.dax", "")
        routed = await _drain(channel, f"{p}.dq")
        for queue in (f"{p}.dq", server_named):
            await channel.queue_delete(queue)
        for exchange in (f"{p}.dx", f"{p}.dax"):
            await channel.exchange_delete(exchange)
    assert queues == {"dq": True, "tq": False, "dadq": False, "exq": False}
    assert exchanges == {"dx": True, "tx": False, "dax": True}
    assert messages == [(b"p1", True), (b"p2", True), (b"p3", False)]
    assert server_named_messages == [(b"sn", False)]
    assert routed == [(b"via dx", False), (b"via dax", False)]


async def _ignore(channel: async_amqp.Channel, body: bytes, envelope: Any, properties: Any) -> None:
    """A consumer callback that leaves its deliveries unacked."""
