"""Mandatory publishes: what happens to a message no queue is bound for.

With ``mandatory=True`` the broker sends an unroutable message back instead
of dropping it. Returned messages are read with ``async for`` over the
channel, typically in a task of its own; the iteration ends when the
channel is closed. The channel buffers returns from the moment it opens,
so none is lost however late that task starts.

In confirm mode the publishing call learns the outcome itself: ``publish``
raises :class:`async_amqp.MessageReturnedError` (reply code 312
``NO_ROUTE``), and the message is also yielded by the iteration.

Run: ``python examples/mandatory_returns.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

import anyio

import async_amqp


async def do_returns(chan: async_amqp.Channel, returned: list[str]) -> None:
    async for body, envelope, _properties in chan:
        print(
            f"returned {body.decode()!r}: {envelope.reply_code} {envelope.reply_text} "
            f"(exchange {envelope.exchange_name!r}, routing key {envelope.routing_key!r})"
        )
        returned.append(body.decode())


async def main(url: str, unroutable_key: str = "no-such-queue") -> dict[str, list[str]]:
    returned: list[str] = []
    raised: list[str] = []
    async with (
        async_amqp.connect_from_url(url) as conn,
        anyio.create_task_group() as task_group,
        conn.new_channel() as chan,  # closed first on the way out: that ends do_returns
    ):
        task_group.start_soon(do_returns, chan, returned)
        declared = await chan.queue_declare("", exclusive=True)
        await chan.publish("routed", "", declared["queue"], mandatory=True)
        await chan.publish("lost", "", unroutable_key, mandatory=True)
        await chan.publish("dropped silently", "", unroutable_key)  # not mandatory

        await chan.confirm_select()
        try:
            await chan.publish("lost too", "", unroutable_key, mandatory=True)
        except async_amqp.MessageReturnedError as error:
            print(f"publish raised: {error.reply_code} {error.reply_text}")
            raised.append(error.body.decode())
    return {"returned": returned, "raised": raised}


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
