"""Topics: a topic exchange matches routing keys against binding patterns.

Routing keys are words separated by dots; in a binding pattern ``*`` stands
for exactly one word and ``#`` for zero or more. After confirmed publishes,
a passive ``queue_declare`` tells how many messages each queue holds (a
passive declare only checks that the queue exists and reports its
counters), and a consumer reads exactly that many.

Run: ``python examples/topics.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

import async_amqp

PATTERNS = ["kern.*", "*.critical", "app.#"]
ROUTING_KEYS = ["kern.critical", "kern.info", "app.critical", "app.db.slow", "cron.info"]


async def main(url: str, exchange_name: str = "topic_logs") -> dict[str, list[str]]:
    received: dict[str, list[str]] = {}
    async with async_amqp.connect_from_url(url) as conn, conn.new_channel() as chan:
        await chan.exchange_declare(exchange_name, "topic")
        queues = {}
        for pattern in PATTERNS:
            declared = await chan.queue_declare("", exclusive=True)
            queues[pattern] = declared["queue"]
            await chan.queue_bind(queues[pattern], exchange_name, routing_key=pattern)

        await chan.confirm_select()
        for routing_key in ROUTING_KEYS:
            await chan.publish(f"event on {routing_key}", exchange_name, routing_key)

        for pattern, queue_name in queues.items():
            state = await chan.queue_declare(queue_name, passive=True)
            keys = received[pattern] = []
            if state["message_count"] == 0:
                continue
            async with chan.new_consumer(queue_name=queue_name) as listener:
                async for _body, envelope, _properties in listener:
                    keys.append(envelope.routing_key)
                    if len(keys) == state["message_count"]:
                        # multiple=True acknowledges this delivery and all earlier ones
                        await chan.basic_ack(envelope.delivery_tag, multiple=True)
                        break
            print(f"{pattern!r:14} matched {keys}")
    return received


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
