"""aio-pika on asyncio (plain, non-robust connection), used the way its documentation shows."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from time import perf_counter

import aio_pika
import aio_pika.abc

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


async def _wait_for_count(chan: aio_pika.abc.AbstractChannel, queue: str, count: int) -> None:
    while True:
        declared = await chan.declare_queue(queue, passive=True)
        if (declared.declaration_result.message_count or 0) >= count:
            return


async def publish(p: Params) -> Metrics:
    body = p.body
    async with await aio_pika.connect(p.url) as conn:
        chan = await conn.channel(publisher_confirms=False)
        publish = chan.default_exchange.publish
        queue = p.queue
        watch = Stopwatch()
        for _ in range(p.count):
            await publish(aio_pika.Message(body), queue, mandatory=False)
        await _wait_for_count(chan, queue, p.count)
        metrics = watch.throughput(p.count)
        await chan.close()
    return metrics


async def publish_confirm(p: Params) -> Metrics:
    body = p.body
    async with await aio_pika.connect(p.url) as conn:
        chan = await conn.channel(publisher_confirms=True)
        publish = chan.default_exchange.publish
        queue = p.queue
        work = Counter(p.count)

        async def worker() -> None:
            while work.take():
                await publish(aio_pika.Message(body), queue, mandatory=False)

        watch = Stopwatch()
        await asyncio.gather(*(worker() for _ in range(min(p.window, p.count))))
        metrics = watch.throughput(p.count)
        await chan.close()
    return metrics


async def consume(p: Params) -> Metrics:
    count = p.count
    no_ack = p.no_ack
    async with await aio_pika.connect(p.url) as conn:
        chan = await conn.channel(publisher_confirms=False)
        await chan.set_qos(prefetch_count=p.prefetch)
        queue = await chan.declare_queue(p.queue, passive=True)
        all_received: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        received = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            if not no_ack:
                await message.ack()
            received += 1
            if received == count:
                all_received.set_result(None)

        watch = Stopwatch()
        await queue.consume(on_message, no_ack=no_ack)
        await all_received
        await chan.declare_queue(p.queue, passive=True)
        metrics = watch.throughput(count)
        await chan.close()
    return metrics


async def rpc(p: Params) -> Metrics:
    body = p.body
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    async with await aio_pika.connect(p.url) as conn:
        server = await conn.channel(publisher_confirms=False)
        client = await conn.channel(publisher_confirms=False)

        async def on_request(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            assert message.reply_to is not None
            await server.default_exchange.publish(
                aio_pika.Message(message.body, correlation_id=message.correlation_id),
                message.reply_to,
                mandatory=False,
            )

        pending: dict[str, asyncio.Future[bytes]] = {}

        async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            assert message.correlation_id is not None
            pending.pop(message.correlation_id).set_result(message.body)

        requests = await server.declare_queue(p.queue, passive=True)
        replies = await client.declare_queue(p.reply_queue, passive=True)
        await requests.consume(on_request, no_ack=True)
        await replies.consume(on_reply, no_ack=True)
        publish = client.default_exchange.publish
        watch = Stopwatch()
        for i in range(p.warmup + p.count):
            if i == p.warmup:
                watch = Stopwatch()
            correlation_id = str(i)
            reply = pending[correlation_id] = loop.create_future()
            started = perf_counter()
            await publish(
                aio_pika.Message(body, reply_to=p.reply_queue, correlation_id=correlation_id),
                p.queue,
                mandatory=False,
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
        async with await aio_pika.connect(p.url) as conn:
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
    return Client("aio-pika", kinds)
