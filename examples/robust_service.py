"""A service that survives a broker restart: ``connect_robust``.

A worker consumes jobs from a durable queue while a producer publishes them
with publisher confirms. Halfway, the broker goes away (``restart``, given by
the tests: a forced close, a cut connection, a node that is down for a while).
``connect_robust`` reconnects, declares the queue again, restores the
worker's prefetch and consumer, and both carry on:

* the worker's ``async for`` keeps going; a job that was being handled when
  the connection went comes again (marked redelivered), so handling is
  idempotent (``done`` is a set);
* a publish whose confirm was lost with the connection raises
  ``PublishNotConfirmedError`` and is simply published again: at least once.

Run: ``python examples/robust_service.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import anyio.abc

import async_amqp


async def worker(
    conn: async_amqp.RobustConnection,
    queue_name: str,
    jobs: int,
    done: set[str],
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    chan = await conn.channel()
    await chan.queue_declare(queue_name, durable=True)
    await chan.basic_qos(prefetch_count=10)  # restored after every reconnect
    async with chan.new_consumer(queue_name) as listener:
        task_status.started()
        async for body, envelope, _properties in listener:
            job = body.decode()
            if job not in done:  # a redelivered job may have been handled already
                done.add(job)
                print(f"handled {job}")
            await chan.basic_ack(envelope.delivery_tag)  # dropped if from a lost connection
            if len(done) == jobs:
                return


async def publish_at_least_once(chan: async_amqp.RobustChannel, body: str, queue: str) -> None:
    """Publish until the broker confirms (it may then hold the job twice)."""
    while True:
        try:
            await chan.publish(body, "", queue, properties={"delivery_mode": 2})
            return
        except async_amqp.PublishNotConfirmedError:
            continue


async def main(
    url: str,
    queue_name: str = "robust_jobs",
    jobs: int = 10,
    restart: Callable[[], Awaitable[None]] | None = None,
) -> set[str]:
    done: set[str] = set()
    async with async_amqp.connect_robust(
        urls=[url], reconnect_interval=0.05, reconnect_timeout=30
    ) as conn:
        async with anyio.create_task_group() as task_group:
            await task_group.start(worker, conn, queue_name, jobs, done)
            chan = await conn.channel()
            await chan.confirm_select()  # restored after every reconnect
            for number in range(1, jobs + 1):
                await publish_at_least_once(chan, f"job {number}", queue_name)
                if number == jobs // 2 and restart is not None:
                    await restart()
            print(f"published {jobs} jobs")
        print(f"all {len(done)} jobs handled after {conn.generation - 1} reconnect(s)")
        await chan.queue_delete(queue_name)
    return done


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
