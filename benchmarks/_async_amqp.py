"""async_amqp, the client under test, on anyio's asyncio or trio backend."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from time import perf_counter

import anyio

from async_amqp import AmqpProtocol, Channel, Properties, connect_amqp

from ._common import (
    RUN_TIMEOUT,
    Client,
    Counter,
    Metrics,
    Params,
    ScenarioFunction,
    Stopwatch,
    cycle_metrics,
    latency_metrics,
)


def _connect(p: Params) -> AmqpProtocol:
    return connect_amqp(
        host=p.host, port=p.port, login=p.login, password=p.password, virtualhost=p.vhost
    )


async def _wait_for_count(chan: Channel, queue: str, count: int) -> None:
    """Poll a passive declare on *chan* until *queue* holds *count* messages."""
    while True:
        declared = await chan.queue_declare(queue, passive=True)
        assert declared is not None
        if declared["message_count"] >= count:
            return


async def publish(p: Params) -> Metrics:
    body = p.body
    async with _connect(p) as conn, conn.new_channel() as chan:
        publish = chan.publish
        queue = p.queue
        watch = Stopwatch()
        for _ in range(p.count):
            await publish(body, "", queue)
        await _wait_for_count(chan, queue, p.count)
        metrics = watch.throughput(p.count)
    return metrics


async def publish_confirm(p: Params) -> Metrics:
    body = p.body
    async with _connect(p) as conn, conn.new_channel() as chan:
        if not hasattr(chan, "confirm_window"):  # a --rev from before the confirm window
            return await _publish_confirm_tasks(p, chan)
        queue = p.queue
        watch = Stopwatch()
        async with chan.confirm_window(size=p.window) as window:
            publish = window.publish
            for _ in range(p.count):
                await publish(body, "", queue)
        metrics = watch.throughput(p.count)
    return metrics


async def _publish_confirm_tasks(p: Params, chan: Channel) -> Metrics:
    """Confirms the way revisions without ``confirm_window`` can do them: worker tasks."""
    body = p.body
    await chan.confirm_select()
    publish = chan.publish
    queue = p.queue
    work = Counter(p.count)

    async def worker() -> None:
        while work.take():
            await publish(body, "", queue)

    watch = Stopwatch()
    async with anyio.create_task_group() as tg:
        for _ in range(min(p.window, p.count)):
            tg.start_soon(worker)
    return watch.throughput(p.count)


async def consume(p: Params) -> Metrics:
    async with _connect(p) as conn, conn.new_channel() as chan:
        await chan.basic_qos(prefetch_count=p.prefetch)
        ack = chan.basic_ack
        no_ack = p.no_ack
        count = p.count
        received = 0
        watch = Stopwatch()
        async with chan.new_consumer(queue_name=p.queue, no_ack=no_ack) as listener:
            async for _body, envelope, _properties in listener:
                if not no_ack:
                    await ack(envelope.delivery_tag)
                received += 1
                if received == count:
                    break
            await chan.queue_declare(p.queue, passive=True)
            metrics = watch.throughput(count)
    return metrics


async def rpc(p: Params) -> Metrics:
    body = p.body
    latencies: list[float] = []
    async with (
        _connect(p) as conn,
        conn.new_channel() as server,
        conn.new_channel() as client,
        anyio.create_task_group() as tg,
    ):
        ready = anyio.Event()

        async def serve() -> None:
            async with server.new_consumer(queue_name=p.queue, no_ack=True) as requests:
                ready.set()
                async for request, _envelope, properties in requests:
                    assert properties.reply_to is not None
                    await server.publish(
                        request,
                        "",
                        properties.reply_to,
                        Properties(correlation_id=properties.correlation_id),
                    )

        tg.start_soon(serve)
        await ready.wait()
        async with client.new_consumer(queue_name=p.reply_queue, no_ack=True) as replies:
            watch = Stopwatch()
            for i in range(p.warmup + p.count):
                if i == p.warmup:
                    watch = Stopwatch()
                correlation_id = str(i)
                started = perf_counter()
                await client.publish(
                    body,
                    "",
                    p.queue,
                    Properties(reply_to=p.reply_queue, correlation_id=correlation_id),
                )
                _reply, _envelope, properties = await replies.get()
                elapsed = perf_counter() - started
                assert properties.correlation_id == correlation_id
                if i >= p.warmup:
                    latencies.append(elapsed)
            cpu_seconds = watch.cpu_seconds()
        tg.cancel_scope.cancel()
    return latency_metrics(latencies, cpu_seconds)


async def connect(p: Params) -> Metrics:
    cycles: list[float] = []
    watch = Stopwatch()
    for _ in range(p.count):
        started = perf_counter()
        async with _connect(p) as conn, conn.new_channel():
            pass
        cycles.append(perf_counter() - started)
    return cycle_metrics(cycles, watch.cpu_seconds())


KINDS: dict[str, Callable[[Params], Awaitable[Metrics]]] = {
    "publish": publish,
    "publish_confirm": publish_confirm,
    "consume": consume,
    "rpc": rpc,
    "connect": connect,
}


def _run(backend: str, kind: Callable[[Params], Awaitable[Metrics]], p: Params) -> Metrics:
    async def main() -> Metrics:
        with anyio.fail_after(RUN_TIMEOUT):
            return await kind(p)

    return anyio.run(main, backend=backend)


def make_client(backend: str) -> Client:
    """async_amqp on *backend* (``asyncio`` or ``trio``)."""
    kinds: dict[str, ScenarioFunction] = {
        name: functools.partial(_run, backend, kind) for name, kind in KINDS.items()
    }
    return Client(f"async_amqp/{backend}", kinds, ours=True)
