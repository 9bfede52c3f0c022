"""Raw-frame parity of what quorum queues and streams add to a delivered message.

Both add a signed 64-bit (``l``) header, ``x-delivery-count`` and ``x-stream-offset``,
and re-sort the whole headers table by key (observed on RabbitMQ 3.10.8); a quorum
queue does so for basic.get always, but for a consumer only once the message has been
returned. The client-level tests cannot see the type tags or the order on the wire.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pamqp import commands

from async_amqp._core.wire import FRAME_HEADER
from async_amqp_testing._model.fieldtable import encode_entries, typed
from async_amqp_testing._model.message import PropertyList
from async_amqp_testing.raw import RawConnection

from .wirekit import WireTarget

HEADERS_FLAG = 0x2000
#: published headers, deliberately unsorted and of two types
PUBLISHED = [(b"z", typed("I", 1)), (b"a", typed("S", b"s"))]


@asynccontextmanager
async def declared(
    wire_target: WireTarget, queue_type: str
) -> AsyncIterator[tuple[RawConnection, str]]:
    """A raw connection with a new queue of *queue_type*; the queue is deleted afterwards."""
    queue = f"test.raw-{queue_type}.{uuid.uuid4().hex[:12]}"
    async with wire_target.opened(1) as raw:
        declare = commands.Queue.Declare(
            queue=queue, durable=True, arguments={"x-queue-type": queue_type}
        )
        await raw.call(1, declare, commands.Queue.DeclareOk)
        try:
            await raw.call(1, commands.Confirm.Select(), commands.Confirm.SelectOk)
            properties = struct.pack(">H", HEADERS_FLAG) + encode_entries(PUBLISHED)
            await raw.publish(1, b"body", routing_key=queue, properties=properties)
            await raw.expect(commands.Basic.Ack, 1)
            yield raw, queue
        finally:
            await raw.call(1, commands.Queue.Delete(queue=queue), commands.Queue.DeleteOk)


async def delivered_headers(raw: RawConnection) -> list[tuple[bytes, str, object]]:
    """The next content header's headers table: (key, type tag, value) in wire order."""
    frame = await raw.receive_frame()
    assert frame.frame_type == FRAME_HEADER
    entries = PropertyList.parse(frame.payload[12:]).header_entries() or []
    await raw.receive_frame()  # the body
    return [(key, value.tag, value.value) for key, value in entries]


async def test_quorum_delivery_count_header(wire_target: WireTarget) -> None:
    async with declared(wire_target, "quorum") as (raw, queue):
        await raw.send_method(1, commands.Basic.Get(queue=queue))
        get_ok = await raw.expect(commands.Basic.GetOk, 1)
        assert await delivered_headers(raw) == [
            (b"a", "S", b"s"),
            (b"x-delivery-count", "l", 0),
            (b"z", "I", 1),
        ]
        await raw.send_method(1, commands.Basic.Reject(get_ok.delivery_tag, requeue=True))
        await raw.send_method(1, commands.Basic.Get(queue=queue))
        await raw.expect(commands.Basic.GetOk, 1)
        assert (b"x-delivery-count", "l", 1) in await delivered_headers(raw)


async def test_quorum_consumer_sees_the_count_only_after_a_return(
    wire_target: WireTarget,
) -> None:
    async with declared(wire_target, "quorum") as (raw, queue):
        await raw.call(1, commands.Basic.Qos(prefetch_count=1), commands.Basic.QosOk)
        consume = commands.Basic.Consume(queue=queue, consumer_tag="worker")
        await raw.call(1, consume, commands.Basic.ConsumeOk)
        first = await raw.expect(commands.Basic.Deliver, 1)
        # the first delivery to a consumer is exactly as published: no count, not sorted
        assert await delivered_headers(raw) == [(b"z", "I", 1), (b"a", "S", b"s")]
        assert first.delivery_tag is not None
        await raw.send_method(1, commands.Basic.Nack(first.delivery_tag, requeue=True))
        second = await raw.expect(commands.Basic.Deliver, 1)
        assert second.redelivered
        assert await delivered_headers(raw) == [
            (b"a", "S", b"s"),
            (b"x-delivery-count", "l", 1),
            (b"z", "I", 1),
        ]
        assert second.delivery_tag is not None
        await raw.send_method(1, commands.Basic.Ack(second.delivery_tag))
        await raw.call(1, commands.Basic.Cancel("worker"), commands.Basic.CancelOk)


async def test_stream_offset_header(wire_target: WireTarget) -> None:
    async with declared(wire_target, "stream") as (raw, queue):
        await raw.call(1, commands.Basic.Qos(prefetch_count=1), commands.Basic.QosOk)
        consume = commands.Basic.Consume(
            queue=queue, consumer_tag="reader", arguments={"x-stream-offset": "first"}
        )
        await raw.call(1, consume, commands.Basic.ConsumeOk)
        deliver = await raw.expect(commands.Basic.Deliver, 1)
        assert await delivered_headers(raw) == [
            (b"a", "S", b"s"),
            (b"x-stream-offset", "l", 0),
            (b"z", "I", 1),
        ]
        assert deliver.delivery_tag is not None
        await raw.send_method(1, commands.Basic.Ack(deliver.delivery_tag))
        await raw.call(1, commands.Basic.Cancel("reader"), commands.Basic.CancelOk)
