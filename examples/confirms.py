"""Publisher confirms: ``publish`` returns once the broker has taken responsibility.

After ``confirm_select()`` every ``publish`` on the channel waits for the
broker's ack. Many tasks can publish on one channel at once; each gets its
own outcome. A nack raises :class:`async_amqp.PublishFailedError` in the
task whose message it was — here provoked with a queue that holds one
message and rejects further publishes (``x-overflow: reject-publish``).

Run: ``python examples/confirms.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

import anyio

import async_amqp


async def main(url: str, count: int = 1000) -> dict[str, int]:
    outcome = {"confirmed": 0, "in queue": 0, "nacked": 0}
    async with async_amqp.connect_from_url(url) as conn, conn.new_channel() as chan:
        declared = await chan.queue_declare("", exclusive=True)
        queue_name = declared["queue"]
        await chan.confirm_select()

        async def publish_one(number: int) -> None:
            await chan.publish(f"message {number}", "", queue_name)
            outcome["confirmed"] += 1

        async with anyio.create_task_group() as task_group:
            for number in range(count):
                task_group.start_soon(publish_one, number)
        print(f"{outcome['confirmed']} concurrent publishes confirmed")

        state = await chan.queue_declare(queue_name, passive=True)
        outcome["in queue"] = state["message_count"]
        print(f"the queue holds {state['message_count']} messages")

        bounded = await chan.queue_declare(
            "", exclusive=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
        )
        await chan.publish("fits", "", bounded["queue"])
        try:
            await chan.publish("does not fit", "", bounded["queue"])
        except async_amqp.PublishFailedError as error:
            outcome["nacked"] += 1
            print(f"nacked by the broker: {error}")
        await chan.publish("the channel is still usable", "", queue_name)
    return outcome


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
