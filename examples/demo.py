"""A complete round trip against the embedded fake broker: no RabbitMQ needed.

Run it with ``python examples/demo.py`` (add ``trio`` to run on trio). It
starts a :class:`async_amqp_testing.FakeBroker` on a free local port, then
uses the async_amqp client exactly as it would talk to RabbitMQ: declare a
topic exchange and a queue, publish with confirms, consume and acknowledge,
and catch an unroutable mandatory message.
"""

from __future__ import annotations

import sys

import anyio

import async_amqp
from async_amqp_testing import FakeBroker


async def main() -> None:
    async with FakeBroker().serve() as broker:
        print(f"fake broker listening on {broker.url}")
        async with (
            async_amqp.connect_from_url(broker.url) as conn,
            conn.new_channel() as chan,
        ):
            await chan.exchange_declare("logs", "topic")
            queue = (await chan.queue_declare("", exclusive=True) or {})["queue"]
            await chan.queue_bind(queue, "logs", routing_key="app.*")
            await chan.confirm_select()

            for level in ("info", "warning", "error"):
                await chan.publish(
                    f"something happened at {level} level",
                    "logs",
                    f"app.{level}",
                    properties={"content_type": "text/plain", "headers": {"level": level}},
                )
            print("published 3 messages, each confirmed by the broker")

            try:
                await chan.publish("nobody listens", "logs", "db.error", mandatory=True)
            except async_amqp.MessageReturnedError as error:
                print(f"unroutable message came back: {error.reply_code} {error.reply_text}")

            received = 0
            async with chan.new_consumer(queue_name=queue) as listener:
                async for body, envelope, properties in listener:
                    print(
                        f"received {body.decode()!r} via {envelope.routing_key} "
                        f"(headers {properties.headers})"
                    )
                    await chan.basic_ack(envelope.delivery_tag)
                    received += 1
                    if received == 3:
                        break
    print("done")


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "asyncio")
