"""Untimed setup and cleanup around each run: queues, pre-filling, broker facts.

Done with async_amqp on asyncio, outside every measurement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio

from async_amqp import connect_amqp

from ._common import QUEUE_ARGUMENTS, Params


async def _declare(p: Params, queues: Sequence[str], prefill: int) -> None:
    async with (
        connect_amqp(
            host=p.host, port=p.port, login=p.login, password=p.password, virtualhost=p.vhost
        ) as conn,
        conn.new_channel() as chan,
    ):
        for queue in queues:
            await chan.queue_declare(queue, arguments=QUEUE_ARGUMENTS)
        if prefill:
            body = p.body
            for _ in range(prefill):
                await chan.publish(body, "", queues[0])
            while True:
                declared = await chan.queue_declare(queues[0], passive=True)
                assert declared is not None
                if declared["message_count"] >= prefill:
                    break


async def _delete(p: Params, queues: Sequence[str]) -> None:
    async with (
        connect_amqp(
            host=p.host, port=p.port, login=p.login, password=p.password, virtualhost=p.vhost
        ) as conn,
        conn.new_channel() as chan,
    ):
        for queue in queues:
            await chan.queue_delete(queue)


async def _server_properties(p: Params) -> dict[str, Any]:
    async with connect_amqp(
        host=p.host, port=p.port, login=p.login, password=p.password, virtualhost=p.vhost
    ) as conn:
        return conn.server_properties


def declare_queues(p: Params, queues: Sequence[str], prefill: int = 0) -> None:
    """Declare *queues* (expiring when unused); put *prefill* messages in the first."""
    anyio.run(_declare, p, queues, prefill)


def delete_queues(p: Params, queues: Sequence[str]) -> None:
    """Delete *queues* (missing ones are fine)."""
    anyio.run(_delete, p, queues)


def broker_description(p: Params) -> str:
    """``RabbitMQ 3.10.x (Erlang ...)`` as the broker announces itself."""
    properties = anyio.run(_server_properties, p)

    def text(name: str) -> str:
        value = properties.get(name, "?")
        return value.decode() if isinstance(value, bytes) else str(value)

    return f"{text('product')} {text('version')} ({text('platform')})"
