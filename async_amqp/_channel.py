"""Channels: the class users hold, and consuming.

:class:`Channel` combines the exchange and queue methods (:mod:`._declare`)
with the basic, confirm and tx methods (:mod:`._basic`), both built on the
plumbing and reader callbacks of :mod:`._channel_base`. Consuming lives here
rather than in a mixin because a :class:`Consumer` and a consumer callback
are handed the channel itself, typed as :class:`Channel`.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import uuid

import anyio
from pamqp import commands

from . import exceptions
from ._basic import BasicMethods
from ._channel_base import Arguments, checked_reply
from ._consumer import Consumer, ConsumerCallback
from ._core.client import ConnectionUnavailable
from ._core.client_channel import ChannelUnavailable
from ._core.wire import make_method
from ._declare import DeclareMethods

logger = logging.getLogger("async_amqp")


class Channel(DeclareMethods, BasicMethods):
    """An AMQP channel. Open one with ``async with conn.new_channel() as chan``.

    ``async for body, envelope, properties in chan`` yields the messages the
    broker returned (``mandatory=True`` publishes it could not route); they
    are buffered from the moment the channel opens.
    """

    # -- basic class: consuming --------------------------------------------------------------------

    def new_consumer(
        self,
        queue_name: str = "",
        consumer_tag: str = "",
        no_local: bool = False,
        no_ack: bool = False,
        exclusive: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> Consumer:
        """Return a consumer to use as ``async with ... as listener: async for ... in listener``."""
        return Consumer(
            self,
            queue_name=queue_name,
            consumer_tag=consumer_tag,
            no_local=no_local,
            no_ack=no_ack,
            exclusive=exclusive,
            no_wait=no_wait,
            arguments=dict(arguments or {}),
        )

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

        The callback (sync or async) runs in its own task, never in the reader,
        one message at a time. An exception it raises ends the connection and
        is raised out of ``async with connect_amqp()``.

        :returns: ``{'consumer_tag': tag}``
        """
        consumer = Consumer(
            self,
            queue_name=queue_name,
            consumer_tag=consumer_tag,
            no_local=no_local,
            no_ack=no_ack,
            exclusive=exclusive,
            no_wait=no_wait,
            arguments=dict(arguments or {}),
            callback=callback,
        )
        await self._start_consumer(consumer)
        task_group = self.protocol._task_group
        assert task_group is not None
        task_group.start_soon(self.protocol._guard, lambda: self._run_callback(consumer))
        return {"consumer_tag": consumer.consumer_tag}

    async def _run_callback(self, consumer: Consumer) -> None:
        callback = consumer.callback
        assert callback is not None
        async for body, envelope, properties in consumer:
            result = callback(self, body, envelope, properties)
            if inspect.isawaitable(result):
                await result

    async def _start_consumer(self, consumer: Consumer) -> None:
        tag = consumer.consumer_tag
        if tag and (tag in self._consumers):
            raise exceptions.DuplicateConsumerTagError(tag)
        if consumer.no_wait and not tag:
            tag = consumer.consumer_tag = f"ctag{self.channel_id}.{uuid.uuid4().hex}"
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
                await self._send(method)
            except BaseException:
                self._consumers.pop(tag, None)
                raise
            return
        await self._call(method, context=consumer)
        logger.debug(
            "consumer %r started on queue %r (channel %s)",
            consumer.consumer_tag,
            consumer.queue_name,
            self.channel_id,
        )

    async def _stop_consumer(self, consumer: Consumer) -> None:
        """Cancel *consumer* and give its unprocessed messages back to the queue."""
        with anyio.CancelScope(shield=True):
            tag = consumer.consumer_tag
            if self.is_open and self.protocol.is_open and tag in self._consumers:
                with contextlib.suppress(
                    exceptions.ChannelClosedError, exceptions.ConnectionClosedError
                ):
                    await self.basic_cancel(tag)
            consumer._finish()
            logger.debug("consumer %r stopped (channel %s)", tag, self.channel_id)
            unprocessed = consumer._take_unprocessed()
            if consumer.no_ack or not unprocessed or not self.is_open:
                return
            for _body, envelope, _properties in unprocessed:
                try:
                    self._core.send(
                        self.channel_id, commands.Basic.Reject(envelope.delivery_tag, requeue=True)
                    )
                except (ChannelUnavailable, ConnectionUnavailable):
                    return
            self.protocol._wake_writer()

    async def basic_cancel(self, consumer_tag: str, no_wait: bool = False) -> dict[str, str]:
        """Stop a consumer; its iterator ends once it has yielded what was already delivered."""
        if no_wait:
            consumer = self._consumers.pop(consumer_tag, None)
            await self._send(commands.Basic.Cancel(consumer_tag, nowait=True))
            if consumer is not None:
                self._orphan(consumer_tag, consumer.no_ack)
                consumer._finish()
            return {"consumer_tag": consumer_tag}
        reply = await self._call(commands.Basic.Cancel(consumer_tag))
        return {"consumer_tag": checked_reply(reply, commands.Basic.CancelOk).consumer_tag or ""}
