"""The exchange class of AMQP: declaring, binding and deleting exchanges.

Like :mod:`._queue_methods` (which inherits it), these methods only send a request and
shape its reply. Each has overloads so that a call without ``no_wait=True`` is
typed with its precise result.
"""

from __future__ import annotations

import logging
from typing import Literal, overload

from pamqp import commands

from ._channel_core import ChannelCore
from ._core.wire import make_method
from ._requests import Arguments
from ._results import ExchangeDeclareResult

logger = logging.getLogger("async_amqp")


def no_arguments(method: str, arguments: Arguments) -> None:
    """Refuse AMQP arguments for a method that carries none.

    :raises ValueError: when *arguments* is not empty
    """
    if arguments:
        raise ValueError(f"{method} takes no AMQP arguments (got {dict(arguments)!r})")


class ExchangeMethods(ChannelCore):
    """Exchange methods of a channel."""

    # -- exchange class ---------------------------------------------------------------------

    @overload
    async def exchange_declare(
        self,
        exchange_name: str,
        type_name: str = "direct",
        passive: bool = False,
        durable: bool = False,
        auto_delete: bool = False,
        no_wait: Literal[False] = False,
        arguments: Arguments = None,
        *,
        internal: bool = False,
    ) -> ExchangeDeclareResult: ...

    @overload
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
    ) -> ExchangeDeclareResult | None: ...

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
        """Declare an exchange (or check that it exists with ``passive=True``).

        :returns: ``{'exchange': name}`` (None with ``no_wait``)
        :raises PreconditionFailedError: when it exists with other settings
        :raises NotFoundError: when passive and missing
        """
        reply = await self._requests.request(
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
        if reply is None:
            return None
        logger.debug("declared exchange %r (%s)", exchange_name, type_name)
        return {"exchange": exchange_name}

    @overload
    async def exchange_delete(
        self,
        exchange_name: str,
        if_unused: bool = False,
        no_wait: Literal[False] = False,
        arguments: Arguments = None,
    ) -> bool: ...

    @overload
    async def exchange_delete(
        self,
        exchange_name: str,
        if_unused: bool = False,
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None: ...

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
        no_arguments("exchange_delete", arguments)
        reply = await self._requests.request(
            make_method(
                commands.Exchange.Delete,
                exchange=exchange_name,
                if_unused=if_unused,
                nowait=no_wait,
            ),
            no_wait,
        )
        return None if reply is None else True

    @overload
    async def exchange_bind(
        self,
        exchange_destination: str,
        exchange_source: str,
        routing_key: str = "",
        no_wait: Literal[False] = False,
        arguments: Arguments = None,
    ) -> bool: ...

    @overload
    async def exchange_bind(
        self,
        exchange_destination: str,
        exchange_source: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None: ...

    async def exchange_bind(
        self,
        exchange_destination: str,
        exchange_source: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Route messages from *exchange_source* to *exchange_destination*."""
        reply = await self._requests.request(
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

    @overload
    async def exchange_unbind(
        self,
        exchange_destination: str,
        exchange_source: str,
        routing_key: str = "",
        no_wait: Literal[False] = False,
        arguments: Arguments = None,
    ) -> bool: ...

    @overload
    async def exchange_unbind(
        self,
        exchange_destination: str,
        exchange_source: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None: ...

    async def exchange_unbind(
        self,
        exchange_destination: str,
        exchange_source: str,
        routing_key: str = "",
        no_wait: bool = False,
        arguments: Arguments = None,
    ) -> bool | None:
        """Remove an exchange-to-exchange binding."""
        reply = await self._requests.request(
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
