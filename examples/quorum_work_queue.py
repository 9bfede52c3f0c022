"""Quorum work queue: a delivery limit sends poison messages to a dead-letter queue.

A quorum queue counts every delivery attempt of a message in its
``x-delivery-count`` header. With ``x-delivery-limit`` set, a message that is
requeued more often than that is dead-lettered (reason ``delivery_limit``)
instead of being redelivered forever, so one message a worker cannot handle does
not block the queue. Here the worker fails on one order every time and requeues
it with ``basic_nack``; after the limit, the order arrives in the dead-letter
queue while the other orders are done. Quorum queues must be durable; this
program deletes its queues at the end.

Run: ``python examples/quorum_work_queue.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

import anyio

import async_amqp

ORDERS = ["order 1", "order 2 (poison)", "order 3"]


async def work(
    chan: async_amqp.Channel, queue_name: str, done: list[str], limit: int, finished: anyio.Event
) -> None:
    """Handle orders one at a time; the poison one fails and is requeued each time."""
    await chan.basic_qos(prefetch_count=1)
    async with chan.new_consumer(queue_name=queue_name) as listener:
        async for body, envelope, properties in listener:
            order = body.decode()
            attempt = (properties.headers or {}).get("x-delivery-count", 0) + 1
            if "poison" in order:
                print(f"attempt {attempt} of {order!r} failed (limit {limit})")
                await chan.basic_nack(envelope.delivery_tag, requeue=True)
                continue
            print(f"done {order!r}")
            done.append(order)
            await chan.basic_ack(envelope.delivery_tag)
            if len(done) == len(ORDERS) - 1:
                finished.set()


async def main(
    url: str,
    queue_name: str = "orders",
    dead_letter_queue: str = "orders.dead",
    delivery_limit: int = 2,
) -> dict[str, list[str]]:
    done: list[str] = []
    dead: list[str] = []
    finished = anyio.Event()
    async with async_amqp.connect_from_url(url) as conn:
        async with conn.new_channel() as chan:
            await chan.queue_declare(
                dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
            )
            await chan.queue_declare(
                queue_name,
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-delivery-limit": delivery_limit,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": dead_letter_queue,
                },
            )
            await chan.confirm_select()
            for order in ORDERS:
                await chan.publish(order, "", queue_name, properties={"delivery_mode": 2})
        async with anyio.create_task_group() as task_group, conn.new_channel() as worker:
            task_group.start_soon(work, worker, queue_name, done, delivery_limit, finished)
            async with (
                conn.new_channel() as chan,
                chan.new_consumer(queue_name=dead_letter_queue) as listener,
            ):
                async for body, envelope, properties in listener:
                    reason = (properties.headers or {}).get("x-first-death-reason")
                    print(f"dead-lettered {body.decode()!r} ({reason})")
                    dead.append(body.decode())
                    await chan.basic_ack(envelope.delivery_tag)
                    break
            await finished.wait()  # the other orders are done too
            task_group.cancel_scope.cancel()
        async with conn.new_channel() as chan:
            for name in (queue_name, dead_letter_queue):
                await chan.queue_delete(name)
    return {"done": done, "dead": dead}


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
