"""Channels: opening, closing, numbering, and errors that end only their channel."""

from __future__ import annotations

import pytest

import async_amqp
from tests.support import BrokerTarget


async def test_channels_are_numbered_from_one_and_reused(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn:
        first = await conn.channel()
        second = await conn.channel()
        assert (first.channel_id, second.channel_id) == (1, 2)
        await first.close()
        assert not first.is_open
        third = await conn.channel()
        assert third.channel_id == 1
        async with conn.new_channel() as fourth:
            assert fourth.channel_id == 3
        assert not fourth.is_open


async def test_no_channel_available_at_channel_max(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect(channel_max=2) as conn:
        await conn.channel()
        await conn.channel()
        with pytest.raises(async_amqp.NoChannelAvailable):
            await conn.channel()


async def test_channel_error_ends_only_that_channel(amqp_broker: BrokerTarget) -> None:
    missing = amqp_broker.queue_name("missing")
    present = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn:
        async with conn.new_channel() as good:
            await good.queue_declare(present)
            async with conn.new_channel() as bad:
                with pytest.raises(async_amqp.NotFoundError) as caught:
                    await bad.queue_declare(missing, passive=True)
                assert caught.value.reply_code == 404
                assert caught.value.reply_text == f"NOT_FOUND - no queue '{missing}' in vhost '/'"
                assert (caught.value.class_id, caught.value.method_id) == (50, 10)
                assert isinstance(caught.value, async_amqp.ChannelClosed)
                assert caught.value.code == 404
                assert caught.value.message == caught.value.reply_text
                assert not bad.is_open
                with pytest.raises(async_amqp.NotFoundError):
                    await bad.queue_declare(present, passive=True)
            result = await good.queue_declare(present, passive=True)
            assert result is not None
            assert result["queue"] == present
        assert conn.is_open


async def test_close_twice_is_harmless(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn:
        chan = await conn.channel()
        await chan.close()
        await chan.close()
        with pytest.raises(async_amqp.ChannelClosed):
            await chan.basic_qos(prefetch_count=1)


async def test_flow_active(amqp_broker: BrokerTarget) -> None:
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        assert await chan.flow(True) == {"active": True}


async def test_flow_inactive_is_not_implemented(amqp_broker: BrokerTarget) -> None:
    with pytest.raises(async_amqp.NotImplementedByBrokerError) as caught:
        async with amqp_broker.connect() as conn, conn.new_channel() as chan:
            await chan.flow(False)
    assert caught.value.reply_text == "NOT_IMPLEMENTED - active=false"
    assert (caught.value.class_id, caught.value.method_id) == (20, 20)
