"""Stream consumers: read a log from any offset, as often as you like.

A stream (``x-queue-type: stream``) keeps its messages after they are
acknowledged: every consumer reads the log from the offset it asks for in the
``x-stream-offset`` consumer argument (``first``, ``last``, ``next`` (the
default), a number, a timestamp, or an interval such as ``10m``) and finds each
message's offset in its ``x-stream-offset`` header. Stream consumers must set a
prefetch (``basic_qos``) and acknowledge what they read. This program writes five
events, replays them all, replays from offset 3, then reads only a new one.
The stream is deleted at the end.

Run: ``python examples/stream_replay.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

from typing import Any

import anyio

import async_amqp

EVENTS = ["signed up", "added card", "ordered", "paid", "shipped"]


async def replay(
    chan: async_amqp.Channel, stream_name: str, offset: Any, count: int, label: str
) -> list[int]:
    """Read *count* messages from *offset*; returns their offsets."""
    offsets: list[int] = []
    arguments = {"x-stream-offset": offset}
    async with chan.new_consumer(queue_name=stream_name, arguments=arguments) as listener:
        async for body, envelope, properties in listener:
            position = (properties.headers or {})["x-stream-offset"]
            print(f"{label}: offset {position}: {body.decode()}")
            offsets.append(position)
            await chan.basic_ack(envelope.delivery_tag)  # frees prefetch, removes nothing
            if len(offsets) == count:
                return offsets
    return offsets


async def main(url: str, stream_name: str = "events") -> dict[str, list[int]]:
    read: dict[str, list[int]] = {}
    async with async_amqp.connect_from_url(url) as conn, conn.new_channel() as chan:
        await chan.queue_declare(
            stream_name, durable=True, arguments={"x-queue-type": "stream", "x-max-age": "7D"}
        )
        await chan.confirm_select()
        for event in EVENTS:
            await chan.publish(event, "", stream_name)
        await chan.basic_qos(prefetch_count=10)  # required for stream consumers
        with anyio.fail_after(30):
            read["first"] = await replay(chan, stream_name, "first", len(EVENTS), "first")
            read["from 3"] = await replay(chan, stream_name, 3, 2, "from 3")
            # "next": only what is published after the consumer is attached (consume-ok)
            async with conn.new_channel() as reader:
                await reader.basic_qos(prefetch_count=10)
                arguments = {"x-stream-offset": "next"}
                async with reader.new_consumer(
                    queue_name=stream_name, arguments=arguments
                ) as listener:
                    await chan.publish("logged in", "", stream_name)
                    body, envelope, properties = await listener.__anext__()
                    position = (properties.headers or {})["x-stream-offset"]
                    print(f"next: offset {position}: {body.decode()}")
                    read["next"] = [position]
                    await reader.basic_ack(envelope.delivery_tag)
        await chan.queue_delete(stream_name)
    return read


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
