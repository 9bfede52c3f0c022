"""The exchange and queue classes of AMQP: declaring, binding, purging, deleting.

These methods only send a request and shape its reply, so they need nothing
from a channel but the plumbing of :class:`~._channel_core.ChannelCore`.
:class:`~._channel.Channel` inherits them.
"""

from __future__ import annotations

import logging
from typing import Literal, overload

from pamqp import commands

from ._core.wire import make_method
from ._exchange_methods import ExchangeMethods, no_arguments
from ._requests import Arguments, checked_reply
from ._results import MessageCountResult, QueueDeclareResult

logger = logging.getLogger("async_amqp")


class QueueMethods(ExchangeMethods):
    """Exchange and queue methods of a channel."""

    # -- queue class --------------------------------------------------------------------------

    @overload
    async def queue_declare(
        self,
        queue_name: str = "",
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        no_wait: Literal[False] = False,
        arguments: Arguments = None,
    ) -> QueueDeclareResult: ...

    @overload
    async def queue_declare(
        self,
        queue_name: str = "",
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> QueueDeclareResult | None: ...

    async def queue_declare(
        self,
        queue_name: str = "",
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> QueueDeclareResult | None:
        """Declare a queue; an empty name lets the broker choose one.

        :returns: ``{'queue', 'message_count', 'consumer_count'}`` (None with ``no_wait``)
        """
        reply = await self._requests.request(
            make_method(
                commands.Queue.Declare,
                queue=queue_name or "",
                passive=passive,
                durable=durable,
                exclusive=exclusive,
                auto_delete=auto_delete,
                nowait=no_wait,
                arguments=dict(arguments or {}),
            ),
            no_wait,
        )
        if reply is None:
            return None
        method = checked_reply(reply, commands.Queue.DeclareOk)
        logger.debug(
            "declared queue %r (%s ready, %s consumers)",
            method.queue,
            method.message_count,
            method.consumer_count,
        )
        return {
            "queue": str(method.queue),
            "message_count": method.message_count or 0,
            "consumer_count": method.consumer_count or 0,
        }

    @overload
    async def queue_delete(
        self,
        queue_name: str,
        if_unused: bool = False,
        if_empty: bool = False,
        no_wait: Literal[False] = False,
        arguments: Arguments = None,
    ) -> MessageCountResult: ...

    @overload
    async def queue_delete(
        self,
        queue_name: str,
        if_unused: bool = False,
        if_empty: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> MessageCountResult | None: ...

    async def queue_delete(
        self,
        queue_name: str,
        if_unused: bool = False,
        if_empty: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> MessageCountResult | None:
        """Delete a queue; returns ``{'message_count': ready messages deleted}``.

        :param arguments: accepted for compatibility; queue.delete carries none
        :raises ValueError: when *arguments* is not empty
        """
        no_arguments("queue_delete", arguments)
        reply = await self._requests.request(
            make_method(
                commands.Queue.Delete,
                queue=queue_name,
                if_unused=if_unused,
                if_empty=if_empty,
                nowait=no_wait,
            ),
            no_wait,
        )
        if reply is None:
            return None
        return {"message_count": checked_reply(reply, commands.Queue.DeleteOk).message_count or 0}

    @overload
    async def queue_bind(
        self,
        queue_name: str,
        exchange_name: str,
        routing_key: str = "",
        no_wait: Literal[False] = False,
        arguments: Arguments = None,
    ) -> bool: ...

    @overload
    async def queue_bind(
        self,
        queue_name: str,
        exchange_name: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None: ...

    async def queue_bind(
        self,
        queue_name: str,
        exchange_name: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Bind a queue to an exchange."""
        reply = await self._requests.request(
            make_method(
                commands.Queue.Bind,
                queue=queue_name,
                exchange=exchange_name,
                routing_key=routing_key,
                nowait=no_wait,
                arguments=dict(arguments or {}),
            ),
            no_wait,
        )
        return None if reply is None else True

    async def queue_unbind(
        self,
        queue_name: str,
        exchange_name: str,
        routing_key: str = "",
        arguments: Arguments = None,
        no_wait: bool = False,
    ) -> bool:
        """Remove a queue binding (removing a missing one succeeds).

        AMQP's queue.unbind has no ``nowait`` bit, so this always waits for
        the broker; ``no_wait`` is accepted for compatibility.
        """
        await self._requests.call(
            make_method(
                commands.Queue.Unbind,
                queue=queue_name,
                exchange=exchange_name,
                routing_key=routing_key,
                arguments=dict(arguments or {}),
            )
        )
        return True

    @overload
    async def queue_purge(
        self, queue_name: str, no_wait: Literal[False] = False
    ) -> MessageCountResult: ...

    @overload
    async def queue_purge(
        self, queue_name: str, no_wait: bool = False
    ) -> MessageCountResult | None: ...

    async def queue_purge(
        self, queue_name: str, no_wait: bool = False
    ) -> MessageCountResult | None:
        """Remove a queue's ready messages; returns ``{'message_count': removed}``."""
        reply = await self._requests.request(
            make_method(commands.Queue.Purge, queue=queue_name, nowait=no_wait), no_wait
        )
        if reply is None:
            return None
        return {"message_count": checked_reply(reply, commands.Queue.PurgeOk).message_count or 0}
