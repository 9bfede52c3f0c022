"""Errors: a channel error ends only its channel; a connection error ends the connection.

The broker reports a failed command by closing the channel with a reply
code (404 ``NOT_FOUND``, 406 ``PRECONDITION_FAILED``, …). The failing call
raises the matching :class:`async_amqp.ChannelClosedError` subclass; the
channel is then closed, but the connection and its other channels carry
on — open a new channel and continue.

Some errors are fatal to the whole connection (an unknown exchange type is
503 ``COMMAND_INVALID``). The failing call raises, every other pending call
on the connection fails with the same error, and the error comes out of
``async with`` as itself, not wrapped in an exception group.

Run: ``python examples/channel_errors.py [amqp://URL] [--backend trio]``
"""

from __future__ import annotations

import async_amqp


async def main(
    url: str, missing_queue: str = "no-such-queue", queue_name: str = "example.errors"
) -> list[int]:
    codes: list[int] = []
    async with async_amqp.connect_from_url(url) as conn:
        async with conn.new_channel() as chan:
            try:
                await chan.queue_declare(missing_queue, passive=True)
            except async_amqp.NotFoundError as error:
                codes.append(error.reply_code)
                print(f"channel {chan.channel_id} closed: {error.reply_code} {error.reply_text}")
            print(f"channel open: {chan.is_open}, connection open: {conn.is_open}")

        async with conn.new_channel() as chan:  # carry on with a fresh channel
            await chan.queue_declare(queue_name, exclusive=True)
            try:  # declaring an existing queue with other settings is refused
                await chan.queue_declare(queue_name, exclusive=True, arguments={"x-max-length": 10})
            except async_amqp.PreconditionFailedError as error:
                codes.append(error.reply_code)
                print(f"refused: {error.reply_code} {error.reply_text}")

    try:
        async with async_amqp.connect_from_url(url) as conn, conn.new_channel() as chan:
            await chan.exchange_declare("example.bad-type", "no-such-type")
    except async_amqp.ConnectionClosedError as error:
        codes.append(error.reply_code)
        print(f"connection closed: {type(error).__name__} {error.reply_code} {error.reply_text}")
    return codes


if __name__ == "__main__":
    from _runner import run_example

    run_example(main, __doc__)
