"""async_amqp: an AMQP 0-9-1 client for anyio, on asyncio and trio.

The public names load lazily (PEP 562): ``import async_amqp._core`` (the
sans-IO protocol core) must not pull in anyio and the I/O layer, so the
package itself imports nothing heavy until a name is first asked for.
Type checkers and Sphinx see every name through the ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:
    from ._channel import Channel
    from ._confirm_window import ConfirmWindow
    from ._connect import connect_amqp, connect_from_url, parse_url
    from ._connection import AmqpProtocol
    from ._consuming import BasicListener, Consumer
    from ._messages import Envelope, Properties, ReturnEnvelope
    from ._results import ExchangeDeclareResult, MessageCountResult, QueueDeclareResult
    from ._robust import (
        ConnectionEvent,
        DeclaredQueue,
        EventKind,
        EventStream,
        RobustChannel,
        RobustConnection,
        RobustConsumer,
        connect_robust,
    )
    from .exceptions import (
        AccessRefusedError,
        AmqpClosedConnection,
        AmqpError,
        AmqpSyntaxError,
        AsyncAmqpException,
        AuthenticationError,
        BrokerInternalError,
        BrokerUnreachableError,
        ChannelClosed,
        ChannelClosedError,
        ChannelNotRecoveredError,
        CommandInvalidError,
        ConfigurationError,
        ConnectionBlockedError,
        ConnectionClosedError,
        ConnectionForcedError,
        ConnectionLostError,
        ConsumerCancelled,
        ConsumerCancelledError,
        DuplicateConsumerTag,
        DuplicateConsumerTagError,
        EmptyQueue,
        EmptyQueueError,
        FrameError,
        FrameOrderError,
        HandshakeTimeoutError,
        HeartbeatTimeoutError,
        InvalidChannelError,
        MalformedFrameError,
        MessageReturnedError,
        NoChannelAvailable,
        NoChannelAvailableError,
        NotAllowedError,
        NotFoundError,
        NotImplementedByBrokerError,
        PreconditionFailedError,
        ProtocolMismatchError,
        ProtocolViolationError,
        PublishFailed,
        PublishFailedError,
        PublishNotConfirmedError,
        ReconnectTimeoutError,
        ResourceError,
        ResourceLockedError,
        SynchronizationError,
        TLSError,
        UnexpectedFrameError,
    )

    #: The API document's name for :func:`connect_amqp`.
    connect = connect_amqp

#: Where each public name lives: name -> submodule.
_LAZY: dict[str, str] = {
    "Channel": "._channel",
    "ConfirmWindow": "._confirm_window",
    "connect_amqp": "._connect",
    "connect_from_url": "._connect",
    "parse_url": "._connect",
    "AmqpProtocol": "._connection",
    "BasicListener": "._consuming",
    "Consumer": "._consuming",
    "Envelope": "._messages",
    "Properties": "._messages",
    "ReturnEnvelope": "._messages",
    "ExchangeDeclareResult": "._results",
    "MessageCountResult": "._results",
    "QueueDeclareResult": "._results",
    "ConnectionEvent": "._robust",
    "DeclaredQueue": "._robust",
    "EventKind": "._robust",
    "EventStream": "._robust",
    "RobustChannel": "._robust",
    "RobustConnection": "._robust",
    "RobustConsumer": "._robust",
    "connect_robust": "._robust",
    "AccessRefusedError": ".exceptions",
    "AmqpClosedConnection": ".exceptions",
    "AmqpError": ".exceptions",
    "AmqpSyntaxError": ".exceptions",
    "AsyncAmqpException": ".exceptions",
    "AuthenticationError": ".exceptions",
    "BrokerInternalError": ".exceptions",
    "BrokerUnreachableError": ".exceptions",
    "ChannelClosed": ".exceptions",
    "ChannelClosedError": ".exceptions",
    "ChannelNotRecoveredError": ".exceptions",
    "CommandInvalidError": ".exceptions",
    "ConfigurationError": ".exceptions",
    "ConnectionBlockedError": ".exceptions",
    "ConnectionClosedError": ".exceptions",
    "ConnectionForcedError": ".exceptions",
    "ConnectionLostError": ".exceptions",
    "ConsumerCancelled": ".exceptions",
    "ConsumerCancelledError": ".exceptions",
    "DuplicateConsumerTag": ".exceptions",
    "DuplicateConsumerTagError": ".exceptions",
    "EmptyQueue": ".exceptions",
    "EmptyQueueError": ".exceptions",
    "FrameError": ".exceptions",
    "FrameOrderError": ".exceptions",
    "HandshakeTimeoutError": ".exceptions",
    "HeartbeatTimeoutError": ".exceptions",
    "InvalidChannelError": ".exceptions",
    "MalformedFrameError": ".exceptions",
    "MessageReturnedError": ".exceptions",
    "NoChannelAvailable": ".exceptions",
    "NoChannelAvailableError": ".exceptions",
    "NotAllowedError": ".exceptions",
    "NotFoundError": ".exceptions",
    "NotImplementedByBrokerError": ".exceptions",
    "PreconditionFailedError": ".exceptions",
    "ProtocolMismatchError": ".exceptions",
    "ProtocolViolationError": ".exceptions",
    "PublishFailed": ".exceptions",
    "PublishFailedError": ".exceptions",
    "PublishNotConfirmedError": ".exceptions",
    "ReconnectTimeoutError": ".exceptions",
    "ResourceError": ".exceptions",
    "ResourceLockedError": ".exceptions",
    "SynchronizationError": ".exceptions",
    "TLSError": ".exceptions",
    "UnexpectedFrameError": ".exceptions",
    "connect": "._connect",  # the API document's name for connect_amqp
}
_ALIASES = {"connect": "connect_amqp"}

if not TYPE_CHECKING:  # hidden from mypy, so a misspelt name stays a type error

    def __getattr__(name: str) -> object:
        """Import the submodule that defines public *name* on first access (PEP 562)."""
        try:
            module_name = _LAZY[name]
        except KeyError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module_name, __name__), _ALIASES.get(name, name))
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    """The module's names, the lazily loaded public ones included."""
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "AccessRefusedError",
    "AmqpClosedConnection",
    "AmqpError",
    "AmqpProtocol",
    "AmqpSyntaxError",
    "AsyncAmqpException",
    "AuthenticationError",
    "BasicListener",
    "BrokerInternalError",
    "BrokerUnreachableError",
    "Channel",
    "ChannelClosed",
    "ChannelClosedError",
    "ChannelNotRecoveredError",
    "CommandInvalidError",
    "ConfigurationError",
    "ConfirmWindow",
    "ConnectionBlockedError",
    "ConnectionClosedError",
    "ConnectionEvent",
    "ConnectionForcedError",
    "ConnectionLostError",
    "Consumer",
    "ConsumerCancelled",
    "ConsumerCancelledError",
    "DeclaredQueue",
    "DuplicateConsumerTag",
    "DuplicateConsumerTagError",
    "EmptyQueue",
    "EmptyQueueError",
    "Envelope",
    "EventKind",
    "EventStream",
    "ExchangeDeclareResult",
    "FrameError",
    "FrameOrderError",
    "HandshakeTimeoutError",
    "HeartbeatTimeoutError",
    "InvalidChannelError",
    "MalformedFrameError",
    "MessageCountResult",
    "MessageReturnedError",
    "NoChannelAvailable",
    "NoChannelAvailableError",
    "NotAllowedError",
    "NotFoundError",
    "NotImplementedByBrokerError",
    "PreconditionFailedError",
    "Properties",
    "ProtocolMismatchError",
    "ProtocolViolationError",
    "PublishFailed",
    "PublishFailedError",
    "PublishNotConfirmedError",
    "QueueDeclareResult",
    "ReconnectTimeoutError",
    "ResourceError",
    "ResourceLockedError",
    "ReturnEnvelope",
    "RobustChannel",
    "RobustConnection",
    "RobustConsumer",
    "SynchronizationError",
    "TLSError",
    "UnexpectedFrameError",
    "__version__",
    "connect",
    "connect_amqp",
    "connect_from_url",
    "connect_robust",
    "parse_url",
]
