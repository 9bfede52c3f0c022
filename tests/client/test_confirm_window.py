"""The confirm window: many confirmed publishes in flight from one task.

``window.publish`` waits only while ``size`` confirms are outstanding; a nack
or a returned mandatory message is raised from the next ``publish`` or from
the block's exit, which waits for every outstanding confirm.
"""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

import async_amqp
from tests.support import BrokerTarget


async def message_count(chan: async_amqp.Channel, queue: str) -> int:
    count: int = (await chan.queue_declare(queue, passive=True) or {})["message_count"]
    return count


async def test_window_publishes_everything_and_bounds_what_is_outstanding(
    amqp_broker: BrokerTarget,
) -> None:
    queue = amqp_broker.queue_name()
    count, size = 500, 16
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        assert not chan.publisher_confirms
        tags: list[int] = []
        peak = 0
        async with chan.confirm_window(size=size) as window:
            assert chan.publisher_confirms  # entering the block selected confirm mode
            for index in range(count):
                tags.append(await window.publish(str(index), "", queue))
                # the confirm of the message just sent may already have been read
                # while publish was sending it, so 0 is a valid count here
                assert 0 <= window.outstanding <= size
                peak = max(peak, window.outstanding)
        assert peak >= 1  # publishes did wait for their confirms in the window
        assert window.outstanding == 0  # leaving the block waited for every confirm
        assert window.failures == []
        assert tags == list(range(1, count + 1))
        assert await message_count(chan, queue) == count
        # a later window on the same channel continues the channel's numbering
        async with chan.confirm_window(size=4) as window:
            assert await window.publish(b"more", "", queue) == count + 1


async def test_window_after_single_confirmed_publishes(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        await chan.confirm_select()
        await chan.publish(b"single", "", queue)
        async with chan.confirm_window(size=2) as window:
            assert await window.publish(b"windowed", "", queue) == 2
        await chan.publish(b"single again", "", queue)
        bodies = [(await chan.basic_get(queue, no_ack=True))["message"] for _ in range(3)]
        assert bodies == [b"single", b"windowed", b"single again"]


async def test_nack_is_raised_from_the_exit(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(
            queue, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
        )
        with pytest.raises(async_amqp.PublishFailedError) as caught:
            async with chan.confirm_window(size=10) as window:
                await window.publish(b"fits", "", queue)
                await window.publish(b"overflows", "", queue)
        assert type(caught.value) is async_amqp.PublishFailedError
        assert caught.value.delivery_tag == 2
        assert window.failures == [caught.value]
        assert window.outstanding == 0
        await chan.publish(b"still usable after a nack", "", "")
        assert await message_count(chan, queue) == 1


async def test_nack_is_raised_from_the_next_publish_which_then_sends_nothing(
    amqp_broker: BrokerTarget,
) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(
            queue, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
        )
        async with chan.confirm_window(size=1) as window:
            await window.publish(b"fits", "", queue)
            await window.publish(b"overflows", "", queue)  # waited for the first confirm
            with pytest.raises(async_amqp.PublishFailedError) as caught:
                await window.publish(b"never sent", "", "")  # waits for the nack, raises it
            assert caught.value.delivery_tag == 2
            # raised once: the window goes on
            assert await window.publish(b"after", "", "") == 3
        assert (await chan.basic_get(queue, no_ack=True))["message"] == b"fits"


async def test_return_is_raised_with_its_message(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    nowhere = amqp_broker.queue_name("nowhere")
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        with pytest.raises(async_amqp.MessageReturnedError) as caught:
            async with chan.confirm_window() as window:
                await window.publish(b"routed", "", queue, mandatory=True)
                await window.publish(
                    b"lost", "", nowhere, properties={"message_id": "m-2"}, mandatory=True
                )
                await window.publish(b"also lost", "", nowhere, mandatory=True)
                await window.publish(b"routed too", "", queue, mandatory=True)
        error = caught.value
        assert (error.delivery_tag, error.reply_code, error.body) == (2, 312, b"lost")
        assert error.properties.message_id == "m-2"
        # every failure is kept, oldest first; only the first was raised
        assert all(isinstance(e, async_amqp.MessageReturnedError) for e in window.failures)
        assert [
            (getattr(e, "delivery_tag", 0), getattr(e, "body", None)) for e in window.failures
        ] == [
            (2, b"lost"),
            (3, b"also lost"),
        ]
        assert await message_count(chan, queue) == 2


async def test_channel_error_ends_the_window(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        with pytest.raises(async_amqp.NotFoundError):
            async with chan.confirm_window(size=100) as window:
                await window.publish(b"ok", "", queue)
                await window.publish(b"bad", amqp_broker.exchange_name("missing"), "")
                while True:  # the next publish raises once the broker closed the channel
                    await window.publish(b"ok", "", queue)
        assert window.outstanding == 0
        assert not chan.is_open
    with pytest.raises(RuntimeError):
        await window.publish(b"late", "", queue)


async def test_window_size_must_be_positive(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        with pytest.raises(ValueError):
            chan.confirm_window(size=0)


async def test_cancellation(amqp_broker: BrokerTarget) -> None:
    """Cancelled before sending or while the window is full, a publish sends nothing;
    a cancelled block does not wait, and its confirms are still counted."""
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare(queue)
        async with chan.confirm_window(size=1) as window:
            with anyio.CancelScope() as scope:
                scope.cancel()
                await window.publish(b"never", "", queue)
            assert scope.cancelled_caught
            assert window.outstanding == 0

            await window.publish(b"first", "", queue)
            waiting = anyio.CancelScope()
            completed = False

            async def publish_second() -> None:
                nonlocal completed
                with waiting:
                    await window.publish(b"cancelled while the window is full", "", queue)
                    completed = True

            async with anyio.create_task_group() as tg:
                tg.start_soon(publish_second)
                # the first confirm needs a network round trip: the window is still full
                # when the task has started and gone to sleep
                await anyio.lowlevel.checkpoint()
                waiting.cancel()
            assert waiting.cancelled_caught
            assert not completed
            await window.publish(b"second", "", queue)

        with anyio.CancelScope() as block_scope:
            async with chan.confirm_window(size=10) as window:
                await window.publish(b"third", "", queue)
                block_scope.cancel()
                await anyio.lowlevel.checkpoint()
        assert block_scope.cancelled_caught
        with anyio.fail_after(10):
            await window.wait_for_confirms()  # the cancelled block's publish is still tracked
        bodies = [(await chan.basic_get(queue, no_ack=True))["message"] for _ in range(3)]
        assert bodies == [b"first", b"second", b"third"]
        assert await message_count(chan, queue) == 0
