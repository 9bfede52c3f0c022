"""Publish/subscribe: a fanout exchange gives every subscriber a copy of every message.

Each subscriber declares its own exclusive queue with a broker-chosen name
(``queue_declare("", exclusive=True)``), binds it to the ``fanout``
exchange, and reads it. The queue disappears when its connection closes.
A subscriber only receives what is published *after* its queue is bound,
so the subscribers signal readiness through ``task_group.start()`` before
anything is published.

Run: ``python examples/publish_subscribe.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

import anyio
import anyio.abc

import async_amqp

LOG_LINES = ["service started", "disk 91% full", "service stopped"]


async def subscriber(
    conn: async_amqp.AmqpProtocol,
    exchange_name: str,
    name: str,
    received: dict[str, list[str]],
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    async with conn.new_channel() as chan:
        declared = await chan.queue_declare("", exclusive=True)
        queue_name = declared["queue"]
        await chan.queue_bind(queue_name, exchange_name)  # fanout ignores the routing key
        lines = received[name] = []
        async with chan.new_consumer(queue_name=queue_name, no_ack=True) as listener:
            task_status.started()
            async for body, _envelope, _properties in listener:
                lines.append(body.decode())
                print(f"{name} got {body.decode()!r}")
                if len(lines) == len(LOG_LINES):
                    break


async def main(url: str, exchange_name: str = "logs") -> dict[str, list[str]]:
    received: dict[str, list[str]] = {}
    async with async_amqp.connect_from_url(url) as conn:
        async with conn.new_channel() as chan:
            await chan.exchange_declare(exchange_name, "fanout")
        async with anyio.create_task_group() as task_group:
            for name in ("console", "archive"):
                await task_group.start(subscriber, conn, exchange_name, name, received)
            async with conn.new_channel() as chan:
                for line in LOG_LINES:
                    await chan.publish(line, exchange_name, routing_key="")
        # the task group ends when every subscriber has every line
    return received


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
