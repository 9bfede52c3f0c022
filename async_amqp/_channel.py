"""The channel users hold, and the ``async with conn.new_channel()`` context.

:class:`Channel` combines the exchange and queue methods (:mod:`._exchange_methods`,
:mod:`._queue_methods`) with the basic, confirm and tx methods (:mod:`._basic`), all
built on :class:`~._channel_core.ChannelCore` (state, request plumbing, the reader's
events). Its consuming methods are signatures over :mod:`._consuming`, which holds
the logic; they live here because a :class:`Consumer` and a consumer callback are
handed the channel itself, typed as :class:`Channel`.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from . import exceptions
from ._basic import BasicMethods
from ._consuming import Consumer, ConsumerCallback
from ._queue_methods import QueueMethods
from ._requests import Arguments
from ._timeouts import close_timeout, shielded_for

if TYPE_CHECKING:
    from ._connection import AmqpProtocol


class Channel(QueueMethods, BasicMethods):
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
            consumers=self._consumers,
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
            consumers=self._consumers,
        )
        await self._consumers.start(consumer)
        self.port.start_task(consumer.run_callback)
        return {"consumer_tag": consumer.consumer_tag}

    async def basic_cancel(self, consumer_tag: str, no_wait: bool = False) -> dict[str, str]:
        """Stop a consumer; its iterator ends once it has yielded what was already delivered."""
        return {"consumer_tag": await self._consumers.cancel(consumer_tag, no_wait)}


class _ChannelContext:
    """``async with conn.new_channel() as chan``: opens, then closes the channel.

    The close on the way out is shielded and bounded (shorter when the block was
    cancelled, see :mod:`._timeouts`).
    """

    def __init__(self, connection: AmqpProtocol, kwargs: dict[str, Any]) -> None:
        self._connection = connection
        self._kwargs = kwargs
        self._channel: Channel | None = None

    async def __aenter__(self) -> Channel:
        self._channel = await self._connection.channel(**self._kwargs)
        return self._channel

    async def __aexit__(self, *exc_info: Any) -> None:
        channel = self._channel
        if channel is None or not channel.is_open:
            return
        with (
            shielded_for(close_timeout(exc_info[0])),
            contextlib.suppress(exceptions.ChannelClosedError, exceptions.ConnectionClosedError),
        ):
            await channel.close()
