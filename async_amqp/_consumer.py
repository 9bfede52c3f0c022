"""Consumers: the buffer between the reader and the code that processes messages.

The reader appends deliveries synchronously and never waits; the buffer is
bounded by the broker's prefetch (``basic_qos``), not by us. A consumer ends
normally when it is cancelled (by us or by the broker, e.g. its queue was
deleted) and raises when its channel or connection is lost.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from ._messages import Envelope, Properties
from ._timeouts import close_timeout

if TYPE_CHECKING:
    from ._channel import Channel

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
    ) -> None:
        self.channel = channel
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

    # -- called by the channel (synchronously, from the reader) -----------------

    def _push(self, delivery: Delivery) -> None:
        self._buffer.append(delivery)
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set()

    def _finish(self, error: BaseException | None = None) -> None:
        if self._finished:
            return
        self._finished = True
        self._error = error
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set()

    def _take_unprocessed(self) -> list[Delivery]:
        items = list(self._buffer)
        self._buffer.clear()
        return items

    # -- user side ------------------------------------------------------------------

    async def __aenter__(self) -> Consumer:
        await self.channel._start_consumer(self)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.channel._stop_consumer(self, close_timeout(exc_info[0]))

    def __aiter__(self) -> Consumer:
        return self

    async def __anext__(self) -> Delivery:
        buffer = self._buffer
        if buffer:
            await self.channel.protocol._checkpoint_sometimes()
        while not buffer:
            if self._finished:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
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
