"""Callback consumer: ``basic_consume`` calls a function for every message.

The callback receives ``(channel, body, envelope, properties)``; it may be
a plain function or a coroutine function. It runs in a task of its own,
one message at a time, never inside the connection's reader. An exception
it raises ends the connection and comes out of ``async with
connect_from_url(...)``. Stop the consumer with ``basic_cancel``.

Run: ``python examples/callback_consumer.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

import anyio

import async_amqp

ORDERS = ["order 1: 2 apples", "order 2: 1 pear", "order 3: 6 plums"]


async def main(url: str) -> list[str]:
    handled: list[str] = []
    all_handled = anyio.Event()

    async def on_message(
        chan: async_amqp.Channel,
        body: bytes,
        envelope: async_amqp.Envelope,
        properties: async_amqp.Properties,
    ) -> None:
        print(f"handling {body.decode()!r} ({properties.content_type})")
        handled.append(body.decode())
        await chan.basic_ack(envelope.delivery_tag)
        if len(handled) == len(ORDERS):
            all_handled.set()

    async with async_amqp.connect_from_url(url) as conn, conn.new_channel() as chan:
        declared = await chan.queue_declare("", exclusive=True)
        queue_name = declared["queue"]
        for order in ORDERS:
            await chan.publish(order, "", queue_name, properties={"content_type": "text/plain"})

        started = await chan.basic_consume(on_message, queue_name=queue_name)
        print(f"consumer {started['consumer_tag']} started")
        await all_handled.wait()
        await chan.basic_cancel(started["consumer_tag"])
    return handled


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
