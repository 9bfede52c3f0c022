"""RPC: requests carry ``reply_to`` and ``correlation_id``; replies come back on a private queue.

The server consumes a request queue and publishes each answer to the queue
named by the request's ``reply_to`` property, copying its
``correlation_id``. The client declares one exclusive, broker-named reply
queue and consumes it in a background task that hands each reply to the
call waiting for that correlation id — so many calls can be in flight at
once over one connection.

Run: ``python examples/rpc.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

import uuid

import anyio
import anyio.abc

import async_amqp


def fibonacci(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


async def rpc_server(
    conn: async_amqp.AmqpProtocol,
    queue_name: str,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    async with conn.new_channel() as chan:
        await chan.queue_declare(queue_name)
        await chan.basic_qos(prefetch_count=10)
        async with chan.new_consumer(queue_name=queue_name) as requests:
            task_status.started()
            async for body, envelope, properties in requests:
                n = int(body)
                print(f"server: fibonacci({n})")
                if properties.reply_to:
                    await chan.publish(
                        str(fibonacci(n)),
                        exchange_name="",
                        routing_key=properties.reply_to,
                        properties={"correlation_id": properties.correlation_id},
                    )
                await chan.basic_ack(envelope.delivery_tag)


class FibonacciClient:
    """Sends requests to the server's queue and matches replies by correlation id."""

    def __init__(self, conn: async_amqp.AmqpProtocol, server_queue: str) -> None:
        self.conn = conn
        self.server_queue = server_queue
        self.reply_queue = ""
        self.waiting: dict[str, tuple[anyio.Event, list[int]]] = {}
        self.chan: async_amqp.Channel | None = None

    async def serve_replies(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the reply consumer (in a task group; cancel the group to stop it)."""
        async with self.conn.new_channel() as chan:
            declared = await chan.queue_declare("", exclusive=True)
            self.reply_queue = declared["queue"]
            self.chan = chan
            async with chan.new_consumer(queue_name=self.reply_queue, no_ack=True) as replies:
                task_status.started()
                async for body, _envelope, properties in replies:
                    entry = self.waiting.pop(properties.correlation_id or "", None)
                    if entry is None:
                        continue  # a reply to a call that gave up waiting
                    event, result = entry
                    result.append(int(body))
                    event.set()

    async def call(self, n: int) -> int:
        assert self.chan is not None, "start serve_replies first"
        correlation_id = uuid.uuid4().hex
        event, result = self.waiting[correlation_id] = (anyio.Event(), [])
        try:
            await self.chan.publish(
                str(n),
                exchange_name="",
                routing_key=self.server_queue,
                properties={"reply_to": self.reply_queue, "correlation_id": correlation_id},
            )
            await event.wait()
        finally:
            self.waiting.pop(correlation_id, None)
        return result[0]


async def main(url: str, queue_name: str = "rpc_queue") -> dict[int, int]:
    answers: dict[int, int] = {}
    async with async_amqp.connect_from_url(url) as conn, anyio.create_task_group() as services:
        await services.start(rpc_server, conn, queue_name)
        client = FibonacciClient(conn, queue_name)
        await services.start(client.serve_replies)

        async def ask(n: int) -> None:
            answers[n] = await client.call(n)

        async with anyio.create_task_group() as calls:  # five calls in flight at once
            for n in (10, 20, 30, 40, 50):
                calls.start_soon(ask, n)
        services.cancel_scope.cancel()  # stop the server and the reply consumer
    for n, value in sorted(answers.items()):
        print(f"client: fibonacci({n}) = {value}")
    return answers


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
