"""A confirm window: one task publishes thousands of confirmed messages quickly.

``chan.confirm_window(size)`` keeps up to ``size`` publishes waiting for their
confirms at once, without a task per message. ``window.publish`` returns as
soon as the message is queued for sending (it waits only while the window is
full) and gives back the message's delivery tag. A nack or a returned
mandatory message is raised from the next ``publish`` or when the block ends;
the block's end waits for every confirm. Here the last message is mandatory
and unroutable, so leaving the block raises
:class:`async_amqp.MessageReturnedError`.

Run: ``python examples/confirm_window.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

import async_amqp


async def main(url: str, count: int = 5000, unroutable_key: str = "nobody-home") -> dict[str, int]:
    async with async_amqp.connect_from_url(url) as conn, conn.new_channel() as chan:
        declared = await chan.queue_declare("", exclusive=True)
        assert declared is not None
        queue_name = declared["queue"]

        async with chan.confirm_window(size=500) as window:
            for number in range(count):
                await window.publish(f"message {number}", "", queue_name)
        print(f"{count} publishes confirmed, at most {window.size} at a time")

        returned_tag = 0
        try:
            async with chan.confirm_window(size=500) as window:
                await window.publish("routed", "", queue_name, mandatory=True)
                await window.publish("lost", "", unroutable_key, mandatory=True)
        except async_amqp.MessageReturnedError as error:
            returned_tag = error.delivery_tag
            print(f"publish {error.delivery_tag} came back: {error.reply_text} {error.body!r}")

        state = await chan.queue_declare(queue_name, passive=True)
        assert state is not None
        print(f"the queue holds {state['message_count']} messages")
    return {"in queue": state["message_count"], "returned": returned_tag}


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
