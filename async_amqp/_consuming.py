"""Consuming: the :class:`Consumer` users read, and a channel's table of consumers.

The reader hands deliveries to :meth:`ConsumerTable.on_delivered`, which appends them
to the consumer's buffer synchronously and never waits; the buffer is bounded by the
broker's prefetch (``basic_qos``), not by us. A consumer ends normally when it is
cancelled (by us or by the broker, e.g. its queue was deleted) and raises when its
channel or connection is lost. Messages for a consumer nobody listens to any more
(an "orphan") are rejected back to the queue unless it consumed with ``no_ack``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
from pamqp import commands

from . import exceptions
from ._core import events as ev
from ._core.wire import make_method
from ._messages import Envelope, Properties
from ._requests import ChannelRequests, checked_reply
from ._timeouts import CLOSE_TIMEOUT, close_timeout

if TYPE_CHECKING:
    from ._channel import Channel

logger = logging.getLogger("async_amqp")

Delivery = tuple[bytes, Envelope, Properties]
ConsumerCallback = Callable[["Channel", bytes, Envelope, Properties], Awaitable[None] | None]


class Consumer:
    """A consumer on a queue; ``async with`` starts and cancels it, ``async for`` reads it.

    Yields ``(body, envelope, properties)``. Obtain one with
    :meth:`Channel.new_consumer`.
    """

    def __init__(
        self,
        channel: Channel,
        *,
        queue_name: str = "",
        consumer_tag: str = "",
        no_local: bool = False,
        no_ack: bool = False,
        exclusive: bool = False,
        no_wait: bool = False,
        arguments: dict[str, Any] | None = None,
        callback: ConsumerCallback | None = None,
        consumers: ConsumerTable,
    ) -> None:
        self.channel = channel
        self._table = consumers
        self.queue_name = queue_name
        self.consumer_tag = consumer_tag
        self.no_local = no_local
        self.no_ack = no_ack
        self.exclusive = exclusive
        self.no_wait = no_wait
        self.arguments = arguments
        self.callback = callback
        self._buffer: deque[Delivery] = deque()
        self._wakeup: anyio.Event | None = None
        self._finished = False
        self._error: BaseException | None = None
        #: True once the broker cancelled this consumer (its queue went away)
        self.cancelled_by_server = False

    def __repr__(self) -> str:
        return (
            f"<Consumer {self.consumer_tag!r} on {self.queue_name!r} "
            f"channel={self.channel.channel_id} buffered={len(self._buffer)}>"
        )

    @property
    def active(self) -> bool:
        """True until the consumer is cancelled or its channel ends."""
        return not self._finished

    # -- called by its channel's consumer table (synchronously, from the reader) ----------

    def assign_tag(self, consumer_tag: str) -> None:
        """The consumer tag the client chose (no_wait) or the broker assigned."""
        self.consumer_tag = consumer_tag

    def push(self, delivery: Delivery) -> None:
        """Buffer one delivery and wake the reader of this consumer."""
        self._buffer.append(delivery)
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set()

    def finish(self, error: BaseException | None = None) -> None:
        """End the iteration once the buffer is empty (raising *error*, if given)."""
        if self._finished:
            return
        self._finished = True
        self._error = error
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set()

    def finish_by_broker(self) -> None:
        """The broker cancelled this consumer (its queue went away)."""
        self.cancelled_by_server = True
        self.finish()

    def take_unprocessed(self) -> list[Delivery]:
        """Remove and return what was delivered but not yet read."""
        items = list(self._buffer)
        self._buffer.clear()
        return items

    async def run_callback(self) -> None:
        """Call the consumer callback for each delivery, one at a time (its own task)."""
        callback = self.callback
        assert callback is not None
        async for body, envelope, properties in self:
            result = callback(self.channel, body, envelope, properties)
            if inspect.isawaitable(result):
                await result

    # -- user side ------------------------------------------------------------------

    async def __aenter__(self) -> Consumer:
        await self._table.start(self)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._table.stop(self, close_timeout(exc_info[0]))

    def __aiter__(self) -> Consumer:
        return self

    async def __anext__(self) -> Delivery:
        buffer = self._buffer
        if buffer:
            await self.channel.port.checkpoint_sometimes()
        while not buffer:
            if self._finished:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self.channel.port.flush()  # what this task queued (acks, a request) goes out now
            wakeup = self._wakeup = anyio.Event()
            await wakeup.wait()
        return buffer.popleft()

    async def get(self) -> Delivery:
        """Return the next delivery (like one step of ``async for``).

        :raises StopAsyncIteration: when the consumer has ended
        """
        return await self.__anext__()

    def __enter__(self) -> None:
        raise TypeError("use 'async with chan.new_consumer(...)'")

    def __exit__(self, *exc_info: Any) -> None:
        raise TypeError("use 'async with chan.new_consumer(...)'")  # pragma: no cover

    def __iter__(self) -> None:
        raise TypeError("use 'async for ... in consumer'")


#: The name the original async_amqp used for the object ``new_consumer`` returns.
BasicListener = Consumer


class ConsumerTable:
    """A channel's consumers by tag, and the tags it stopped listening to."""

    __slots__ = ("_channel_open", "_consumers", "_orphans", "_requests")

    def __init__(self, requests: ChannelRequests, *, channel_open: Callable[[], bool]) -> None:
        self._requests = requests
        self._channel_open = channel_open
        self._consumers: dict[str, Consumer] = {}
        #: consumer tags we stopped listening to, with their no_ack flag
        self._orphans: dict[str, bool] = {}

    def _orphan(self, consumer_tag: str, no_ack: bool) -> None:
        self._orphans[consumer_tag] = no_ack

    # -- requests (the channel's consuming methods) ------------------------------------

    async def start(self, consumer: Consumer) -> None:
        """Send basic.consume for *consumer* (and wait for consume-ok unless no_wait)."""
        requests = self._requests
        tag = consumer.consumer_tag
        if tag and (tag in self._consumers):
            raise exceptions.DuplicateConsumerTagError(tag)
        if consumer.no_wait and not tag:
            tag = f"ctag{requests.channel_id}.{uuid.uuid4().hex}"
            consumer.assign_tag(tag)
        method = make_method(
            commands.Basic.Consume,
            queue=consumer.queue_name,
            consumer_tag=tag,
            no_local=consumer.no_local,
            no_ack=consumer.no_ack,
            exclusive=consumer.exclusive,
            nowait=consumer.no_wait,
            arguments=consumer.arguments or {},
        )
        if consumer.no_wait:
            self._consumers[tag] = consumer
            try:
                await requests.send(method)
            except BaseException:
                self._consumers.pop(tag, None)
                raise
            return
        await requests.call(method, context=consumer)
        logger.debug(
            "consumer %r started on queue %r (channel %s)",
            consumer.consumer_tag,
            consumer.queue_name,
            requests.channel_id,
        )

    async def cancel(self, consumer_tag: str, no_wait: bool) -> str:
        """Send basic.cancel; return the tag the broker confirmed."""
        if no_wait:
            consumer = self._consumers.pop(consumer_tag, None)
            await self._requests.send(commands.Basic.Cancel(consumer_tag, nowait=True))
            if consumer is not None:
                self._orphan(consumer_tag, consumer.no_ack)
                consumer.finish()
            return consumer_tag
        reply = await self._requests.call(commands.Basic.Cancel(consumer_tag))
        return checked_reply(reply, commands.Basic.CancelOk).consumer_tag or ""

    async def stop(self, consumer: Consumer, bound: float = CLOSE_TIMEOUT) -> None:
        """Cancel *consumer* and give its unprocessed messages back to the queue.

        Waits at most *bound* for the broker's cancel-ok; past it the consumer is
        dropped here (what the broker still sends it is rejected back to the queue).
        """
        channel_open = self._channel_open
        with anyio.CancelScope(shield=True):
            tag = consumer.consumer_tag
            if channel_open() and self._requests.port.is_open and tag in self._consumers:
                with (
                    anyio.move_on_after(bound),
                    contextlib.suppress(
                        exceptions.ChannelClosedError, exceptions.ConnectionClosedError
                    ),
                ):
                    await self.cancel(tag, no_wait=False)
                if self._consumers.get(tag) is consumer:  # no cancel-ok in time
                    del self._consumers[tag]
                    self._orphan(tag, consumer.no_ack)
            consumer.finish()
            logger.debug("consumer %r stopped (channel %s)", tag, self._requests.channel_id)
            unprocessed = consumer.take_unprocessed()
            if consumer.no_ack or not unprocessed or not channel_open():
                return
            self._requests.reject_all([envelope.delivery_tag for _b, envelope, _p in unprocessed])

    # -- what the reader tells (synchronous) -------------------------------------------

    def on_consume_ok(self, consumer_tag: str, consumer: Consumer) -> None:
        """The broker started *consumer* under *consumer_tag*."""
        consumer.assign_tag(consumer_tag)
        self._consumers[consumer_tag] = consumer

    def on_cancel_ok(self, consumer_tag: str) -> None:
        """The broker confirmed a cancel: the consumer ends after what it buffered."""
        consumer = self._consumers.pop(consumer_tag, None)
        if consumer is not None:
            self._orphan(consumer_tag, consumer.no_ack)
            consumer.finish()

    def on_cancelled_by_broker(self, consumer_tag: str) -> None:
        """The broker cancelled a consumer (its queue was deleted)."""
        consumer = self._consumers.pop(consumer_tag, None)
        if consumer is not None:
            self._orphan(consumer_tag, consumer.no_ack)
            consumer.finish_by_broker()

    def on_delivered(self, event: ev.MessageDelivered) -> None:
        """Buffer a delivery for its consumer, or requeue it when nobody listens."""
        method = event.method
        tag = method.consumer_tag or ""
        consumer = self._consumers.get(tag)
        requests = self._requests
        if consumer is None:
            no_ack = self._orphans.get(tag)  # None: a tag never ours, left unacknowledged
            requests.core.delivered(requests.channel_id, method.delivery_tag or 0, no_ack is True)
            if no_ack is False:  # nobody listens any more: give it back to the queue now
                requests.core.send(
                    requests.channel_id, commands.Basic.Reject(method.delivery_tag, requeue=True)
                )
            return
        requests.core.delivered(requests.channel_id, method.delivery_tag or 0, consumer.no_ack)
        consumer.push(
            (
                event.body,
                Envelope(
                    tag,
                    method.delivery_tag or 0,
                    method.exchange or "",
                    method.routing_key or "",
                    bool(method.redelivered),
                ),
                Properties(*event.properties),
            )
        )

    def drop(self, consumer_tag: str, consumer: Consumer | None) -> None:
        """Cancel a consumer nobody listens to; requeue what it buffered (and is sent later).

        :raises ChannelUnavailable, ConnectionUnavailable: the channel is gone (the broker
            then requeues everything itself)
        """
        requests = self._requests
        no_ack = consumer.no_ack if consumer is not None else True
        self._orphan(consumer_tag, no_ack)
        requests.core.send(requests.channel_id, commands.Basic.Cancel(consumer_tag, nowait=True))
        if consumer is None:
            return
        if self._consumers.get(consumer_tag) is consumer:
            del self._consumers[consumer_tag]
        consumer.finish()
        unprocessed = consumer.take_unprocessed()
        if not no_ack:
            requests.reject_all([envelope.delivery_tag for _b, envelope, _p in unprocessed])

    def end(self, error: BaseException | None) -> None:
        """The channel is gone: end every consumer (raising *error*, unless a clean close)."""
        for consumer in self._consumers.values():
            consumer.finish(error)
        self._consumers.clear()

    def __contains__(self, consumer_tag: object) -> bool:
        return consumer_tag in self._consumers
