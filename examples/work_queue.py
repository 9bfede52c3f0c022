"""Work queue: several workers share the tasks of one durable queue.

Each worker has its own channel with ``basic_qos(prefetch_count=1)``: the
broker hands a worker its next task only once it has acknowledged the
previous one, so a busy worker is not sent more work while an idle one
waits. Tasks are published persistent (``delivery_mode=2``) to a durable
queue, and a task is acknowledged only after it is done: if a worker dies
half-way, the broker gives the task to another worker.

Run: ``python examples/work_queue.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

import anyio
import anyio.abc

import async_amqp

TASKS = ["resize photo.jpg", "send welcome mail", "rebuild index", "charge card", "tweet"]


async def worker(
    conn: async_amqp.AmqpProtocol,
    queue_name: str,
    name: str,
    done: list[tuple[str, str]],
    all_done: anyio.Event,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    async with conn.new_channel() as chan:
        await chan.basic_qos(prefetch_count=1)
        async with chan.new_consumer(queue_name=queue_name) as listener:
            task_status.started()  # the consumer is registered with the broker
            async for body, envelope, _properties in listener:
                task = body.decode()
                print(f"{name} does {task!r}")
                done.append((name, task))
                await chan.basic_ack(envelope.delivery_tag)  # only now is the task finished
                if len(done) == len(TASKS):
                    all_done.set()


async def main(url: str, queue_name: str = "task_queue", workers: int = 2) -> list[tuple[str, str]]:
    done: list[tuple[str, str]] = []
    all_done = anyio.Event()
    async with async_amqp.connect_from_url(url) as conn:
        async with conn.new_channel() as chan:
            await chan.queue_declare(queue_name, durable=True)
        async with anyio.create_task_group() as task_group:
            for number in range(1, workers + 1):
                await task_group.start(worker, conn, queue_name, f"worker {number}", done, all_done)
            async with conn.new_channel() as chan:
                for task in TASKS:
                    await chan.publish(
                        task,
                        "",
                        queue_name,
                        properties={"delivery_mode": 2},  # persistent
                    )
            print(f"queued {len(TASKS)} tasks")
            await all_done.wait()
            task_group.cancel_scope.cancel()  # stop the workers
    print(f"all {len(done)} tasks done")
    return done


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
