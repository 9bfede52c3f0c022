"""aiormq on asyncio, used the way its documentation shows."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import cast

import aiormq
import aiormq.abc
from pamqp import commands as spec

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


async def _wait_for_count(chan: aiormq.abc.AbstractChannel, queue: str, count: int) -> None:
    while True:
        declared = await chan.queue_declare(queue, passive=True)
        if (declared.message_count or 0) >= count:
            return


async def publish(p: Params) -> Metrics:
    body = p.body
    async with aiormq.connect(p.url) as conn:
        chan = await conn.channel(publisher_confirms=False)
        publish = chan.basic_publish
        queue = p.queue
        watch = Stopwatch()
        for _ in range(p.count):
            await publish(body, routing_key=queue)
        await _wait_for_count(chan, queue, p.count)
        metrics = watch.throughput(p.count)
        await chan.close()
    return metrics


async def publish_confirm(p: Params) -> Metrics:
    body = p.body
    async with aiormq.connect(p.url) as conn:
        chan = await conn.channel(publisher_confirms=True)
        publish = chan.basic_publish
        queue = p.queue
        work = Counter(p.count)

        async def worker() -> None:
            while work.take():
                await publish(body, routing_key=queue)

        watch = Stopwatch()
        await asyncio.gather(*(worker() for _ in range(min(p.window, p.count))))
        metrics = watch.throughput(p.count)
        await chan.close()
    return metrics


async def consume(p: Params) -> Metrics:
    count = p.count
    no_ack = p.no_ack
    async with aiormq.connect(p.url) as conn:
        chan = await conn.channel(publisher_confirms=False)
        await chan.basic_qos(prefetch_count=p.prefetch)
        ack = chan.basic_ack
        all_received: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        received = 0

        async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
            nonlocal received
            if not no_ack:
                delivery = cast(spec.Basic.Deliver, message.delivery)
                await ack(cast(int, delivery.delivery_tag))
            received += 1
            if received == count:
                all_received.set_result(None)

        watch = Stopwatch()
        await chan.basic_consume(p.queue, on_message, no_ack=no_ack)
        await all_received
        await chan.queue_declare(p.queue, passive=True)
        metrics = watch.throughput(count)
        await chan.close()
    return metrics


async def rpc(p: Params) -> Metrics:
    body = p.body
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    async with aiormq.connect(p.url) as conn:
        server = await conn.channel(publisher_confirms=False)
        client = await conn.channel(publisher_confirms=False)

        async def on_request(message: aiormq.abc.DeliveredMessage) -> None:
            properties = message.header.properties
            assert properties.reply_to is not None
            await server.basic_publish(
                message.body,
                routing_key=properties.reply_to,
                properties=spec.Basic.Properties(correlation_id=properties.correlation_id),
            )

        pending: dict[str, asyncio.Future[bytes]] = {}

        async def on_reply(message: aiormq.abc.DeliveredMessage) -> None:
            correlation_id = message.header.properties.correlation_id
            assert correlation_id is not None
            pending.pop(correlation_id).set_result(message.body)

        await server.basic_consume(p.queue, on_request, no_ack=True)
        await client.basic_consume(p.reply_queue, on_reply, no_ack=True)
        watch = Stopwatch()
        for i in range(p.warmup + p.count):
            if i == p.warmup:
                watch = Stopwatch()
            correlation_id = str(i)
            reply = pending[correlation_id] = loop.create_future()
            started = perf_counter()
            await client.basic_publish(
                body,
                routing_key=p.queue,
                properties=spec.Basic.Properties(
                    reply_to=p.reply_queue, correlation_id=correlation_id
                ),
            )
            await reply
            elapsed = perf_counter() - started
            if i >= p.warmup:
                latencies.append(elapsed)
        cpu_seconds = watch.cpu_seconds()
        await client.close()
        await server.close()
    return latency_metrics(latencies, cpu_seconds)


async def connect(p: Params) -> Metrics:
    cycles: list[float] = []
    watch = Stopwatch()
    for _ in range(p.count):
        started = perf_counter()
        async with aiormq.connect(p.url) as conn:
            chan = await conn.channel()
            await chan.close()
        cycles.append(perf_counter() - started)
    return cycle_metrics(cycles, watch.cpu_seconds())


KINDS: dict[str, Callable[[Params], Awaitable[Metrics]]] = {
    "publish": publish,
    "publish_confirm": publish_confirm,
    "consume": consume,
    "rpc": rpc,
    "connect": connect,
}


def _run(kind: Callable[[Params], Awaitable[Metrics]], p: Params) -> Metrics:
    async def main() -> Metrics:
        async with asyncio.timeout(RUN_TIMEOUT):
            return await kind(p)

    return asyncio.run(main())


def make_client() -> Client:
    kinds: dict[str, ScenarioFunction] = {
        name: functools.partial(_run, kind) for name, kind in KINDS.items()
    }
    return Client("aiormq", kinds)
