"""Consumers that keep yielding across reconnects.

A :class:`RobustConsumer` wraps the plain :class:`~async_amqp.Consumer` of the
current connection. When the connection is lost, the recovery restarts it on
the new connection (same consumer tag, the queue's current name) and the
iterator simply goes on. Messages that were buffered but not yet yielded when
the connection was lost are dropped (the broker redelivers them, marked
redelivered), except with ``no_ack`` where nothing would redeliver them.
Delivery tags are offset per connection so that they keep growing: a tag from
an earlier connection is recognised and its ack is dropped, never sent.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio

from .. import exceptions
from .._consuming import Consumer, Delivery
from .policy import is_retryable

if TYPE_CHECKING:
    from .._channel import Channel
    from .channel import RobustChannel

logger = logging.getLogger("async_amqp.robust")


class RobustConsumer:
    """A consumer that survives reconnects; ``async with`` starts it, ``async for`` reads it.

    Obtain one with :meth:`RobustChannel.new_consumer`. Yields
    ``(body, envelope, properties)`` like :class:`~async_amqp.Consumer`.
    """

    def __init__(
        self,
        channel: RobustChannel,
        *,
        queue_name: str,
        consumer_tag: str,
        no_local: bool,
        no_ack: bool,
        exclusive: bool,
        arguments: dict[str, Any],
    ) -> None:
        self.channel = channel
        self.queue_name = queue_name
        self.consumer_tag = consumer_tag
        self.no_local = no_local
        self.no_ack = no_ack
        self.exclusive = exclusive
        self.arguments = arguments
        self._inner: Consumer | None = None
        self._generation = 0
        self._offset = 0
        self._changed = anyio.Event()
        self._stopped = False
        self._error: BaseException | None = None
        #: True once the broker cancelled this consumer (its queue was deleted)
        self.cancelled_by_server = False

    def __repr__(self) -> str:
        return f"<RobustConsumer {self.consumer_tag!r} on {self.queue_name!r}>"

    @property
    def active(self) -> bool:
        """True until the consumer is stopped (by us, the broker, or the connection's end)."""
        return not self._stopped and self._error is None

    # -- used by the channel's recovery ----------------------------------------------

    def renamed(self, names: dict[str, str]) -> None:
        """Follow a server-named queue that got a new name."""
        self.queue_name = names.get(self.queue_name, self.queue_name)

    async def attach(self, inner_channel: Channel, generation: int, offset: int) -> None:
        """Start consuming on *inner_channel* (a no-op if already done for *generation*)."""
        if self._generation >= generation or not self.active:
            return
        previous, self._generation = self._generation, generation
        consumer = inner_channel.new_consumer(
            queue_name=self.queue_name,
            consumer_tag=self.consumer_tag,
            no_local=self.no_local,
            no_ack=self.no_ack,
            exclusive=self.exclusive,
            arguments=self.arguments,
        )
        try:
            await consumer.__aenter__()
        except BaseException:
            if self._generation == generation:
                self._generation = previous
            raise
        if not self.active:  # stopped while it was being started: cancel it again
            await consumer.__aexit__(None, None, None)
            return
        self._inner = consumer
        self._offset = offset
        self.consumer_tag = consumer.consumer_tag
        logger.debug("consumer %r consumes from %r again", self.consumer_tag, self.queue_name)
        self._wake()

    def end(self, error: BaseException | None) -> None:
        """The consumer is over: iteration stops (or raises *error*)."""
        if error is None:
            self._stopped = True
        elif self._error is None and not self._stopped:
            self._error = error
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def detach(self) -> None:
        """Cancel the current plain consumer (its unprocessed messages are requeued)."""
        inner, self._inner = self._inner, None
        if inner is not None:
            await inner.__aexit__(None, None, None)

    # -- user side -------------------------------------------------------------------

    async def __aenter__(self) -> RobustConsumer:
        await self.channel.start_consumer(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.channel.stop_consumer(self)

    def __aiter__(self) -> RobustConsumer:
        return self

    async def get(self) -> Delivery:
        """Return the next delivery (like one step of ``async for``)."""
        return await self.__anext__()

    async def __anext__(self) -> Delivery:
        """Return the next delivery, waiting across reconnects."""
        while True:
            if self._error is not None:
                raise self._error
            inner = self._inner
            if self._stopped:
                raise StopAsyncIteration
            if inner is None:
                await self._changed.wait()
                continue
            offset = self._offset
            try:
                body, envelope, properties = await inner.__anext__()
            except StopAsyncIteration:
                if inner is self._inner:
                    self.cancelled_by_server = inner.cancelled_by_server
                    self._stopped = True
                    self.channel.forget_consumer(self)
                continue
            except exceptions.ConnectionClosedError as error:
                if not is_retryable(error):
                    raise
                await self._replaced(inner)
                continue
            if not inner.channel.is_open and not self.no_ack:
                logger.debug(
                    "dropping delivery %s of a lost connection (the broker redelivers it)",
                    envelope.delivery_tag,
                )
                continue
            envelope.delivery_tag += offset
            self.channel.delivered(envelope.delivery_tag)
            return body, envelope, properties

    async def _replaced(self, inner: Consumer) -> None:
        while self._inner is inner and self.active:
            await self._changed.wait()
        if self._inner is inner:
            self._inner = None
