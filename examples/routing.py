"""Routing: a direct exchange delivers a message to the queues bound with its routing key.

One queue is bound for ``error`` only, another for every severity. After
publishing in confirm mode (so every message is known to be routed and
enqueued), each queue is drained with ``basic_get`` until the broker says
it is empty (:class:`async_amqp.EmptyQueueError`).

Run: ``python examples/routing.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

import async_amqp

MESSAGES = [("info", "user logged in"), ("warning", "slow query"), ("error", "payment failed")]


async def drain(chan: async_amqp.Channel, queue_name: str) -> list[str]:
    """Fetch every message of a queue with basic_get."""
    bodies: list[str] = []
    while True:
        try:
            message = await chan.basic_get(queue_name, no_ack=True)
        except async_amqp.EmptyQueueError:
            return bodies
        bodies.append(f"{message['routing_key']}: {message['message'].decode()}")


async def main(url: str, exchange_name: str = "direct_logs") -> dict[str, list[str]]:
    bindings = {"errors only": ["error"], "everything": ["info", "warning", "error"]}
    async with async_amqp.connect_from_url(url) as conn, conn.new_channel() as chan:
        await chan.exchange_declare(exchange_name, "direct")
        queues = {}
        for name, severities in bindings.items():
            declared = await chan.queue_declare("", exclusive=True)
            queues[name] = declared["queue"]
            for severity in severities:
                await chan.queue_bind(queues[name], exchange_name, routing_key=severity)

        await chan.confirm_select()  # each publish now returns once the broker has it
        for severity, text in MESSAGES:
            await chan.publish(text, exchange_name, routing_key=severity)

        received = {name: await drain(chan, queue_name) for name, queue_name in queues.items()}
    for name, lines in received.items():
        print(f"{name}: {lines}")
    return received


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
