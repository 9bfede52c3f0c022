"""A robust channel's exchange and queue methods: the plain ones, recorded for replay.

Each successful declaration or binding is recorded in the connection's
:class:`~.topology.Topology`; deleting or unbinding removes the record.
"""

from __future__ import annotations

from .._requests import Arguments
from .._results import ExchangeDeclareResult, MessageCountResult
from .channel_base import RobustChannelBase
from .topology import DeclaredQueue, RecordedBinding, RecordedExchange, RecordedQueue


class RobustDeclareMethods(RobustChannelBase):
    """Exchange and queue methods of a robust channel."""

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
    ) -> ExchangeDeclareResult | None:
        """Declare an exchange; it is declared again after every reconnect (unless passive)."""
        result = await self._run(
            lambda inner: inner.exchange_declare(
                exchange_name,
                type_name,
                passive,
                durable,
                auto_delete,
                no_wait,
                arguments,
                internal=internal,
            )
        )
        if not passive and exchange_name:
            self._topology.add_exchange(
                RecordedExchange(
                    exchange_name, type_name, durable, auto_delete, internal, dict(arguments or {})
                )
            )
        return result

    async def exchange_delete(
        self,
        exchange_name: str,
        if_unused: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Delete an exchange and forget it (and its bindings) for recovery."""
        result = await self._run(
            lambda inner: inner.exchange_delete(exchange_name, if_unused, no_wait, arguments)
        )
        self._topology.remove_exchange(exchange_name)
        return result

    async def exchange_bind(
        self,
        exchange_destination: str,
        exchange_source: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Bind two exchanges; the binding is restored after every reconnect."""
        result = await self._run(
            lambda inner: inner.exchange_bind(
                exchange_destination, exchange_source, routing_key, no_wait, arguments
            )
        )
        self._topology.add_binding(
            RecordedBinding(
                False, exchange_destination, exchange_source, routing_key, dict(arguments or {})
            )
        )
        return result

    async def exchange_unbind(
        self,
        exchange_destination: str,
        exchange_source: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Remove an exchange-to-exchange binding and forget it."""
        result = await self._run(
            lambda inner: inner.exchange_unbind(
                exchange_destination, exchange_source, routing_key, no_wait, arguments
            )
        )
        self._topology.remove_binding(
            RecordedBinding(
                False, exchange_destination, exchange_source, routing_key, dict(arguments or {})
            )
        )
        return result

    async def queue_declare(
        self,
        queue_name: str = "",
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> DeclaredQueue | None:
        """Declare a queue; it is declared again after every reconnect (unless passive).

        A server-named queue (empty *queue_name*) gets a new name on reconnect; the
        returned :class:`DeclaredQueue` then holds the new name.
        """
        declared = await self._run(
            lambda inner: inner.queue_declare(
                queue_name, passive, durable, exclusive, auto_delete, no_wait, arguments
            )
        )
        if declared is None:
            return None
        result = DeclaredQueue(declared)
        if not passive:
            self._topology.add_queue(
                RecordedQueue(
                    result.name,
                    not queue_name,
                    durable,
                    exclusive,
                    auto_delete,
                    dict(arguments or {}),
                    [result],
                )
            )
        return result

    async def queue_delete(
        self,
        queue_name: str,
        if_unused: bool = False,
        if_empty: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> MessageCountResult | None:
        """Delete a queue and forget it (and its bindings) for recovery."""
        result = await self._run(
            lambda inner: inner.queue_delete(queue_name, if_unused, if_empty, no_wait, arguments)
        )
        self._topology.remove_queue(queue_name)
        return result

    async def queue_bind(
        self,
        queue_name: str,
        exchange_name: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Bind a queue to an exchange; the binding is restored after every reconnect."""
        result = await self._run(
            lambda inner: inner.queue_bind(
                queue_name, exchange_name, routing_key, no_wait, arguments
            )
        )
        self._topology.add_binding(
            RecordedBinding(True, queue_name, exchange_name, routing_key, dict(arguments or {}))
        )
        return result

    async def queue_unbind(
        self,
        queue_name: str,
        exchange_name: str,
        routing_key: str = "",
        arguments: Arguments = None,
        no_wait: bool = False,
    ) -> bool:
        """Remove a queue binding and forget it."""
        result = await self._run(
            lambda inner: inner.queue_unbind(
                queue_name, exchange_name, routing_key, arguments, no_wait
            )
        )
        self._topology.remove_binding(
            RecordedBinding(True, queue_name, exchange_name, routing_key, dict(arguments or {}))
        )
        return result

    async def queue_purge(
        self, queue_name: str, no_wait: bool = False
    ) -> MessageCountResult | None:
        """Purge a queue (not repeated when the connection is lost under it: that raises)."""
        return await self._run(
            lambda inner: inner.queue_purge(queue_name, no_wait), repeatable=False
        )
