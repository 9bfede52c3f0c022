"""Hello world: one program sends a message to a queue, another receives it.

``send`` and ``receive`` each open their own connection, as two separate
programs would. The queue is declared by both: declaring is idempotent, so
whichever starts first creates it.

Run: ``python examples/hello_world.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

import async_amqp


async def send(url: str, queue_name: str) -> None:
    async with async_amqp.connect_from_url(url) as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue_name)
        # The default exchange "" routes a message to the queue named by its routing key.
        await chan.publish("Hello, world!", exchange_name="", routing_key=queue_name)
        print(f"sent 'Hello, world!' to queue {queue_name!r}")


async def receive(url: str, queue_name: str) -> bytes:
    async with async_amqp.connect_from_url(url) as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue_name)
        async with chan.new_consumer(queue_name=queue_name) as listener:
            async for body, envelope, _properties in listener:
                print(f"received {body.decode()!r} (delivery tag {envelope.delivery_tag})")
                await chan.basic_ack(envelope.delivery_tag)
                return body  # leaving the block cancels the consumer
    raise RuntimeError("the consumer ended before a message arrived")


async def main(url: str, queue_name: str = "hello") -> bytes:
    await send(url, queue_name)
    return await receive(url, queue_name)


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
