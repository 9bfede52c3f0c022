"""The exceptions async_amqp raises.

Every error the broker reports carries its AMQP ``reply_code`` and
``reply_text`` (and the ``class_id``/``method_id`` of the method that caused
it). Channel errors (403, 404, 405, 406) end only their channel and are
:class:`ChannelClosedError` subclasses; connection errors end the connection
and are :class:`ConnectionClosedError` subclasses. The names the original
async_amqp exported (``AsyncAmqpException``, ``ChannelClosed``,
``AmqpClosedConnection``, ``PublishFailed``, ``EmptyQueue``, …) are aliases,
so existing ``except`` clauses keep matching.
"""

from __future__ import annotations

from typing import TypeVar

from ._client_errors import (
    BrokerUnreachableError as BrokerUnreachableError,  # exported by async_amqp itself
)
from ._client_errors import (
    ChannelNotRecoveredError,
    ConfigurationError,
    ConnectionBlockedError,
    ConsumerCancelledError,
    DuplicateConsumerTagError,
    EmptyQueueError,
    HandshakeTimeoutError,
    MessageReturnedError,
    NoChannelAvailableError,
    PublishFailedError,
    PublishNotConfirmedError,
    ReconnectTimeoutError,
    SynchronizationError,
    TLSError,
)
from ._core.codes import REPLY_CODES, ReplyCode
from ._reply_errors import (
    AccessRefusedError,
    AmqpError,
    AmqpSyntaxError,
    AuthenticationError,
    BrokerInternalError,
    ChannelClosedError,
    CommandInvalidError,
    ConnectionClosedError,
    ConnectionForcedError,
    ConnectionLostError,
    FrameError,
    FrameOrderError,
    HeartbeatTimeoutError,
    InvalidChannelError,
    MalformedFrameError,
    NotAllowedError,
    NotFoundError,
    NotImplementedByBrokerError,
    PreconditionFailedError,
    ProtocolMismatchError,
    ProtocolViolationError,
    ResourceError,
    ResourceLockedError,
    UnexpectedFrameError,
)

_E = TypeVar("_E", bound=AmqpError)


def _classes_by_code(base: type[_E]) -> dict[int, type[_E]]:
    """The subclasses of *base* the reply-code table names, by code (wherever defined)."""
    by_name: dict[str, type[_E]] = {}
    pending = [base]
    while pending:
        cls = pending.pop()
        by_name[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return {
        code: by_name[info.exception]
        for code, info in REPLY_CODES.items()
        if info.exception in by_name
    }


_CHANNEL_ERRORS = _classes_by_code(ChannelClosedError)
_CONNECTION_ERRORS = _classes_by_code(ConnectionClosedError)


_VIOLATIONS: dict[int, type[ProtocolViolationError]] = {
    501: MalformedFrameError,
    505: FrameOrderError,
}


def protocol_violation(
    reply_code: int, reply_text: str, class_id: int = 0, method_id: int = 0
) -> ProtocolViolationError:
    """Build the exception for a fault the client found in the broker's bytes."""
    cls = _VIOLATIONS.get(reply_code, ProtocolViolationError)
    return cls(reply_code, reply_text, class_id, method_id)


def channel_error(
    reply_code: int, reply_text: str, class_id: int = 0, method_id: int = 0
) -> ChannelClosedError:
    """Build the exception for a broker-sent channel.close."""
    return _CHANNEL_ERRORS.get(reply_code, ChannelClosedError)(
        reply_code, reply_text, class_id, method_id
    )


def connection_error(
    reply_code: int,
    reply_text: str,
    class_id: int = 0,
    method_id: int = 0,
    *,
    during_login: bool = False,
) -> ConnectionClosedError:
    """Build the exception for a broker-sent connection.close."""
    cls: type[ConnectionClosedError]
    if during_login and reply_code == ReplyCode.ACCESS_REFUSED:
        cls = AuthenticationError
    else:
        cls = _CONNECTION_ERRORS.get(reply_code, ConnectionClosedError)
    return cls(reply_code, reply_text, class_id, method_id)


# The names the original async_amqp (and aioamqp) exported.
AsyncAmqpException = AmqpError
ChannelClosed = ChannelClosedError
AmqpClosedConnection = ConnectionClosedError
PublishFailed = PublishFailedError
EmptyQueue = EmptyQueueError
NoChannelAvailable = NoChannelAvailableError
DuplicateConsumerTag = DuplicateConsumerTagError
ConsumerCancelled = ConsumerCancelledError

__all__ = [
    "AccessRefusedError",
    "AmqpClosedConnection",
    "AmqpError",
    "AmqpSyntaxError",
    "AsyncAmqpException",
    "AuthenticationError",
    "BrokerInternalError",
    "ChannelClosed",
    "ChannelClosedError",
    "ChannelNotRecoveredError",
    "CommandInvalidError",
    "ConfigurationError",
    "ConnectionBlockedError",
    "ConnectionClosedError",
    "ConnectionForcedError",
    "ConnectionLostError",
    "ConsumerCancelled",
    "ConsumerCancelledError",
    "DuplicateConsumerTag",
    "DuplicateConsumerTagError",
    "EmptyQueue",
    "EmptyQueueError",
    "FrameError",
    "FrameOrderError",
    "HandshakeTimeoutError",
    "HeartbeatTimeoutError",
    "InvalidChannelError",
    "MalformedFrameError",
    "MessageReturnedError",
    "NoChannelAvailable",
    "NoChannelAvailableError",
    "NotAllowedError",
    "NotFoundError",
    "NotImplementedByBrokerError",
    "PreconditionFailedError",
    "ProtocolMismatchError",
    "ProtocolViolationError",
    "PublishFailed",
    "PublishFailedError",
    "PublishNotConfirmedError",
    "ReconnectTimeoutError",
    "ResourceError",
    "ResourceLockedError",
    "SynchronizationError",
    "TLSError",
    "UnexpectedFrameError",
    "channel_error",
    "connection_error",
    "protocol_violation",
]
