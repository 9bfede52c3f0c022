"""Acks queued together in delivery order go out as one ``multiple`` ack (both brokers).

The broker must end up exactly where one frame per ack would have left it: every
message settled once, nothing redelivered, and an invalid ack still refused, with
the acks queued before it applied.
"""

from __future__ import annotations

import logging
import re

import pytest

import async_amqp
from tests.support import BrokerTarget

_SENT_ACK = re.compile(r" -> ch\d+ Basic\.Ack\(delivery_tag=(\d+), multiple=(True|False)\)")


def sent_acks(caplog: pytest.LogCaptureFixture) -> list[tuple[int, bool]]:
    """The basic.ack frames the client sent, from its frame trace."""
    found = []
    for record in caplog.records:
        match = (
            _SENT_ACK.search(record.getMessage()) if record.name == "async_amqp.frames" else None
        )
        if match:
            found.append((int(match[1]), match[2] == "True"))
    return found


async def get_tags(
    chan: async_amqp.Channel, queue: str, count: int, no_ack: bool = False
) -> list[int]:
    return [(await chan.basic_get(queue, no_ack=no_ack))["delivery_tag"] for _ in range(count)]


async def fill(chan: async_amqp.Channel, queue: str, count: int) -> None:
    await chan.queue_declare(queue)
    for index in range(count):
        await chan.publish(str(index), "", queue)


async def test_acks_in_order_settle_everything_in_fewer_frames(
    amqp_broker: BrokerTarget, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="async_amqp.frames")
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await fill(chan, queue, 10)
        tags = await get_tags(chan, queue, 10)
        assert tags == list(range(1, 11))
        for tag in tags:
            await chan.basic_ack(tag)
        declared = await chan.queue_declare(queue, passive=True)
        assert declared["message_count"] == 0
    acks = sent_acks(caplog)
    # one frame, or two when the acks' turn to yield to other tasks fell in between
    assert 1 <= len(acks) <= 2
    assert acks[-1] == (10, True)
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        declared = await chan.queue_declare(queue, passive=True)
        assert declared["message_count"] == 0  # nothing came back when the channel closed
        await chan.queue_delete(queue)


async def test_acks_out_of_order_settle_each_message_once(amqp_broker: BrokerTarget) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        await fill(chan, queue, 6)
        await get_tags(chan, queue, 6)
        for tag in (2, 1, 4, 3, 6):
            await chan.basic_ack(tag)
        # message 5 is the only one unacknowledged: closing the channel requeues it
    async with amqp_broker.connect() as conn, conn.new_channel() as chan:
        got = await chan.basic_get(queue, no_ack=True)
        assert got["message"] == b"4"
        assert got["redelivered"] is True
        assert (await chan.queue_declare(queue, passive=True))["message_count"] == 0
        await chan.queue_delete(queue)


async def test_an_ack_of_a_no_ack_delivery_is_refused_after_the_acks_before_it(
    amqp_broker: BrokerTarget,
) -> None:
    queue = amqp_broker.queue_name()
    async with amqp_broker.connect() as conn:
        async with conn.new_channel() as chan:
            await fill(chan, queue, 3)
        chan = await conn.channel()
        await get_tags(chan, queue, 1)  # tag 1, to be acknowledged
        await get_tags(chan, queue, 1, no_ack=True)  # tag 2, settled on delivery
        await chan.basic_ack(1)
        await chan.basic_ack(2)  # RabbitMQ knows no tag 2 to acknowledge
        with pytest.raises(async_amqp.ChannelClosedError) as raised:
            await chan.queue_declare(queue, passive=True)
        assert raised.value.code == 406
        assert "unknown delivery tag 2" in raised.value.message
        async with conn.new_channel() as chan:
            # message 0 was acknowledged before the refused ack, message 1 consumed no_ack
            declared = await chan.queue_declare(queue, passive=True)
            assert declared["message_count"] == 1
            got = await chan.basic_get(queue, no_ack=True)
            assert got["message"] == b"2"
            await chan.queue_delete(queue)
