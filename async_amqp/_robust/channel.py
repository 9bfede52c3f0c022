"""The channel users of ``connect_robust`` hold: same API as :class:`~async_amqp.Channel`.

Publishing, acknowledging and consuming live here; exchanges and queues in
:mod:`.declare`; the plumbing in :mod:`.channel_base`.

Publish semantics across a reconnect: a publish made while disconnected waits for
the reconnect (bounded only by the caller's cancel scope) and then goes out. In
confirm mode, a publish whose confirm was still pending when the connection was
lost raises :class:`~async_amqp.exceptions.PublishNotConfirmedError`: it is never
reported confirmed unless the broker confirmed it. Without confirms, a publish
that returned may still be lost with the connection (that is what confirms are
for).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import anyio.lowlevel

from .. import exceptions
from .._channel import Channel
from .._channel_core import Returned
from .._consuming import ConsumerCallback
from .._messages import Payload, Properties
from .._requests import Arguments
from .._timeouts import shielded_for
from .consumer import RobustConsumer
from .declare import RobustDeclareMethods
from .policy import is_retryable

logger = logging.getLogger("async_amqp.robust")


class RobustChannel(RobustDeclareMethods):
    """A channel of a robust connection; it survives reconnects.

    ``async for body, envelope, properties in chan`` yields returned messages,
    across reconnects. Transactions (``tx_*``) are not offered: a transaction
    cannot survive a lost connection.
    """

    # -- publishing ------------------------------------------------------------------

    async def publish(
        self,
        payload: Payload,
        exchange_name: str,
        routing_key: str,
        properties: Properties | Mapping[str, Any] | None = None,
        mandatory: bool = False,
        immediate: bool = False,
    ) -> None:
        """Publish a message, waiting for a reconnect if the connection is down.

        :raises PublishNotConfirmedError: in confirm mode, the connection was lost before
            the broker confirmed the message (it may or may not have arrived)
        :raises PublishFailedError: the broker nacked it (confirm mode)
        :raises MessageReturnedError: a mandatory message was unroutable (confirm mode)
        """
        while True:
            inner = await self._current()
            confirming = inner.publisher_confirms
            try:
                await inner.publish(
                    payload, exchange_name, routing_key, properties, mandatory, immediate
                )
                return
            except exceptions.ChannelClosedError as error:
                if not inner.is_open and inner.protocol.is_open:
                    self._fail(error)
                raise
            except exceptions.ConnectionClosedError as error:
                if not is_retryable(error) or self._link.fatal is not None:
                    raise
                if confirming:
                    raise exceptions.PublishNotConfirmedError(error) from error
                # without confirms, a publish that raised was not sent: send it on the next one

    basic_publish = publish

    async def confirm_select(self, *, no_wait: bool = False) -> bool | None:
        """Put the channel in confirm mode (restored on every reconnect)."""
        result = await self._run(lambda inner: inner.confirm_select(no_wait=no_wait))
        self._confirming = True
        return result

    async def basic_qos(
        self, prefetch_size: int = 0, prefetch_count: int = 0, connection_global: bool = False
    ) -> bool:
        """Limit unacknowledged deliveries (restored on every reconnect)."""
        result = await self._run(
            lambda inner: inner.basic_qos(prefetch_size, prefetch_count, connection_global)
        )
        self._qos = (prefetch_size, prefetch_count, connection_global)
        return result

    async def basic_get(self, queue_name: str = "", no_ack: bool = False) -> dict[str, Any]:
        """Fetch one message (its ``delivery_tag`` is offset like a consumer's).

        :raises EmptyQueueError: when the queue has no ready message
        """

        async def get(inner: Channel) -> dict[str, Any]:
            offset = self._offset  # that of *inner*, the current plain channel
            result = await inner.basic_get(queue_name, no_ack)
            result["delivery_tag"] += offset
            return result

        result = await self._run(get)
        self.delivered(result["delivery_tag"])
        return result

    # -- acknowledgements ----------------------------------------------------------------

    async def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        """Acknowledge a delivery; one from an earlier connection is dropped (DEBUG log)."""
        await self._settle(
            delivery_tag,
            multiple,
            lambda inner, tag: inner.basic_ack(tag, multiple),
            "basic.ack",
        )

    basic_client_ack = basic_ack

    async def basic_nack(
        self, delivery_tag: int, multiple: bool = False, requeue: bool = True
    ) -> None:
        """Reject deliveries; those of an earlier connection are dropped (DEBUG log)."""
        await self._settle(
            delivery_tag,
            multiple,
            lambda inner, tag: inner.basic_nack(tag, multiple, requeue),
            "basic.nack",
        )

    basic_client_nack = basic_nack

    async def basic_reject(self, delivery_tag: int, requeue: bool = False) -> None:
        """Reject a delivery; one from an earlier connection is dropped (DEBUG log)."""
        await self._settle(
            delivery_tag,
            False,
            lambda inner, tag: inner.basic_reject(tag, requeue),
            "basic.reject",
        )

    async def basic_recover(self, requeue: bool = True) -> bool:
        """Redeliver this channel's unacknowledged messages (not repeated after a loss)."""
        return await self._run(lambda inner: inner.basic_recover(requeue), repeatable=False)

    # -- consuming ---------------------------------------------------------------------

    def new_consumer(
        self,
        queue_name: str = "",
        consumer_tag: str = "",
        no_local: bool = False,
        no_ack: bool = False,
        exclusive: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> RobustConsumer:
        """Return a consumer that keeps consuming across reconnects (``no_wait`` is ignored)."""
        return RobustConsumer(
            self,
            queue_name=queue_name,
            consumer_tag=consumer_tag,
            no_local=no_local,
            no_ack=no_ack,
            exclusive=exclusive,
            arguments=dict(arguments or {}),
        )

    async def start_consumer(self, consumer: RobustConsumer) -> None:
        """Start *consumer* now and after every reconnect."""
        self._consumers.append(consumer)
        try:
            await self._run(lambda inner: consumer.attach(inner, self._generation, self._offset))
        except BaseException:
            self.forget_consumer(consumer)
            raise

    async def stop_consumer(self, consumer: RobustConsumer) -> None:
        """Stop *consumer* for good; its unprocessed messages go back to the queue."""
        consumer.end(None)
        self.forget_consumer(consumer)
        with anyio.CancelScope(shield=True):
            # nothing to cancel on a channel or connection that is gone
            with contextlib.suppress(
                exceptions.ChannelClosedError, exceptions.ConnectionClosedError
            ):
                await consumer.detach()

    async def basic_consume(
        self,
        callback: ConsumerCallback,
        queue_name: str = "",
        consumer_tag: str = "",
        no_local: bool = False,
        no_ack: bool = False,
        exclusive: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> dict[str, str]:
        """Start a consumer that calls ``callback(channel, body, envelope, properties)``.

        The callback runs in a task of the robust connection, across reconnects, one
        message at a time; an exception it raises ends the robust connection.
        """
        consumer = self.new_consumer(
            queue_name, consumer_tag, no_local, no_ack, exclusive, arguments=arguments
        )
        await self.start_consumer(consumer)
        self._spawn(self._run_callback, consumer, callback)
        return {"consumer_tag": consumer.consumer_tag}

    async def _run_callback(self, consumer: RobustConsumer, callback: ConsumerCallback) -> None:
        async for body, envelope, properties in consumer:
            result = callback(self, body, envelope, properties)  # type: ignore[arg-type]
            if inspect.isawaitable(result):
                await result

    async def basic_cancel(self, consumer_tag: str, no_wait: bool = False) -> dict[str, str]:
        """Stop the consumer with this tag (for good)."""
        for consumer in list(self._consumers):
            if consumer.consumer_tag == consumer_tag:
                await self.stop_consumer(consumer)
                return {"consumer_tag": consumer_tag}
        return await self._run(lambda inner: inner.basic_cancel(consumer_tag, no_wait))

    # -- returned messages ---------------------------------------------------------------

    def __aiter__(self) -> RobustChannel:
        return self

    async def __anext__(self) -> Returned:
        """Return the next returned message, across reconnects."""
        while True:
            if self._closed and self._error is None:
                raise StopAsyncIteration  # closed by the user, or with the connection
            inner = await self._current()
            try:
                return await inner.__anext__()
            except StopAsyncIteration:
                if inner.protocol.is_open or not self.is_open:
                    raise
            except exceptions.ConnectionClosedError as error:
                if not is_retryable(error) or self._link.fatal is not None:
                    raise

    # -- channel class -------------------------------------------------------------------

    async def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Close the channel for good (it is no longer recovered)."""
        inner = self._inner
        self.end(None)
        if inner is not None and inner.is_open and inner.protocol.is_open:
            with contextlib.suppress(exceptions.ConnectionClosedError):  # gone with its connection
                await inner.close(reply_code, reply_text)
        else:
            await anyio.lowlevel.checkpoint()

    async def flow(self, active: bool) -> dict[str, bool]:
        """Ask the broker to pause or resume deliveries (not repeated after a loss)."""
        return await self._run(lambda inner: inner.flow(active), repeatable=False)


#: How long leaving ``async with conn.new_channel()`` waits for the channel's close-ok.
CLOSE_TIMEOUT = 5.0


class _RobustChannelContext:
    """``async with conn.new_channel() as chan``: opens, then closes the channel."""

    def __init__(self, open_channel: Callable[[], Awaitable[RobustChannel]]) -> None:
        self._open_channel = open_channel
        self._channel: RobustChannel | None = None

    async def __aenter__(self) -> RobustChannel:
        self._channel = await self._open_channel()
        return self._channel

    async def __aexit__(self, *exc_info: object) -> None:
        channel = self._channel
        if channel is None or not channel.is_open:
            return
        with (
            shielded_for(CLOSE_TIMEOUT),
            contextlib.suppress(exceptions.ChannelClosedError, exceptions.ConnectionClosedError),
        ):
            await channel.close()
