"""The exchange and queue classes of AMQP: declaring, binding, purging, deleting.

These methods only send a request and shape its reply, so they need nothing
from a channel but the plumbing of :class:`~._channel_base._ChannelBase`.
:class:`~._channel.Channel` inherits them.
"""

from __future__ import annotations

from typing import Any

from pamqp import commands

from ._channel_base import Arguments, _ChannelBase, checked_reply
from ._core.wire import make_method


def _no_arguments(method: str, arguments: Arguments) -> None:
    if arguments:
        raise ValueError(f"{method} takes no AMQP arguments (got {dict(arguments)!r})")


class DeclareMethods(_ChannelBase):
    """Exchange and queue methods of a channel."""

    # -- exchange class ---------------------------------------------------------------------

    async def exchange_declare(
        self,
        exchange_name: str,
        type_name: str = "direct",
        passive: bool = False,
        durable: bool = False,
        auto_delete: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
        *,
        internal: bool = False,
    ) -> dict[str, str] | None:
        """Declare an exchange (or check that it exists with ``passive=True``).

        :returns: ``{'exchange': name}`` (None with ``no_wait``)
        :raises PreconditionFailedError: when it exists with other settings
        :raises NotFoundError: when passive and missing
        """
        reply = await self._request(
            make_method(
                commands.Exchange.Declare,
                exchange=exchange_name,
                exchange_type=type_name,
                passive=passive,
                durable=durable,
                auto_delete=auto_delete,
                internal=internal,
                nowait=no_wait,
                arguments=dict(arguments or {}),
            ),
            no_wait,
        )
        return None if reply is None else {"exchange": exchange_name}

    async def exchange_delete(
        self,
        exchange_name: str,
        if_unused: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Delete an exchange (deleting a missing one succeeds).

        :param arguments: accepted for compatibility; exchange.delete carries none
        :raises ValueError: when *arguments* is not empty
        """
        _no_arguments("exchange_delete", arguments)
        reply = await self._request(
            make_method(
                commands.Exchange.Delete,
                exchange=exchange_name,
                if_unused=if_unused,
                nowait=no_wait,
            ),
            no_wait,
        )
        return None if reply is None else True

    async def exchange_bind(
        self,
        exchange_destination: str,
        exchange_source: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Route messages from *exchange_source* to *exchange_destination*."""
        reply = await self._request(
            make_method(
                commands.Exchange.Bind,
                destination=exchange_destination,
                source=exchange_source,
                routing_key=routing_key,
                nowait=no_wait,
                arguments=dict(arguments or {}),
            ),
            no_wait,
        )
        return None if reply is None else True

    async def exchange_unbind(
        self,
        exchange_destination: str,
        exchange_source: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Remove an exchange-to-exchange binding."""
        reply = await self._request(
            make_method(
                commands.Exchange.Unbind,
                destination=exchange_destination,
                source=exchange_source,
                routing_key=routing_key,
                nowait=no_wait,
                arguments=dict(arguments or {}),
            ),
            no_wait,
        )
        return None if reply is None else True

    # -- queue class --------------------------------------------------------------------------

    async def queue_declare(
        self,
        queue_name: str = "",
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> dict[str, Any] | None:
        """Declare a queue; an empty name lets the broker choose one.

        :returns: ``{'queue', 'message_count', 'consumer_count'}`` (None with ``no_wait``)
        """
        reply = await self._request(
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
        return {
            "queue": method.queue,
            "message_count": method.message_count,
            "consumer_count": method.consumer_count,
        }

    async def queue_delete(
        self,
        queue_name: str,
        if_unused: bool = False,
        if_empty: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> dict[str, int] | None:
        """Delete a queue; returns ``{'message_count': ready messages deleted}``.

        :param arguments: accepted for compatibility; queue.delete carries none
        :raises ValueError: when *arguments* is not empty
        """
        _no_arguments("queue_delete", arguments)
        reply = await self._request(
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

    async def queue_bind(
        self,
        queue_name: str,
        exchange_name: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Bind a queue to an exchange."""
        reply = await self._request(
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
        await self._call(
            make_method(
                commands.Queue.Unbind,
                queue=queue_name,
                exchange=exchange_name,
                routing_key=routing_key,
                arguments=dict(arguments or {}),
            )
        )
        return True

    async def queue_purge(self, queue_name: str, no_wait: bool = False) -> dict[str, int] | None:
        """Remove a queue's ready messages; returns ``{'message_count': removed}``."""
        reply = await self._request(
            make_method(commands.Queue.Purge, queue=queue_name, nowait=no_wait), no_wait
        )
        if reply is None:
            return None
        return {"message_count": checked_reply(reply, commands.Queue.PurgeOk).message_count or 0}
