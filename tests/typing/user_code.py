"""A user's program as mypy --strict sees it: the results of channel methods are precise.

The typing check (tests/typing/test_user_typing.py, and .ci/run after the README's
install and after a wheel install) runs ``mypy --strict`` on this file outside the
repository. It also runs, against the fake broker.
"""

from __future__ import annotations

from typing import assert_type

import anyio

import async_amqp
from async_amqp_testing import FakeBroker


async def main() -> None:
    """Declare, bind, purge and delete, using each result as its precise type."""
    async with (
        FakeBroker().serve() as broker,
        broker.connect() as conn,
        conn.new_channel() as chan,
    ):
        declared = await chan.queue_declare("", exclusive=True)
        assert_type(declared, async_amqp.QueueDeclareResult)
        queue_name: str = declared["queue"]
        waiting: int = declared["message_count"] + declared["consumer_count"]
        exchange = await chan.exchange_declare("user.events", "topic")
        assert_type(exchange["exchange"], str)
        bound: bool = await chan.queue_bind(queue_name, exchange["exchange"], "#")
        await chan.confirm_select()
        await chan.publish(b"hello", "user.events", "a.b")
        purged = await chan.queue_purge(queue_name)
        deleted = await chan.queue_delete(queue_name)
        removed: int = purged["message_count"] + deleted["message_count"]
        maybe = await chan.queue_declare("later", no_wait=True)
        assert_type(maybe, async_amqp.QueueDeclareResult | None)
        print(queue_name.startswith("amq.gen-"), waiting, bound, removed)


if __name__ == "__main__":
    anyio.run(main)
