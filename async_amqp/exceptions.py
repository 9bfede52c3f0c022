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

from typing import TYPE_CHECKING, TypeVar

from ._core.codes import REPLY_CODES, ReplyCode

if TYPE_CHECKING:
    from ._messages import Properties, ReturnEnvelope


class AmqpError(Exception):
    """Base class of every async_amqp exception."""


class _ReplyError(AmqpError):
    """An error the broker reported with a reply code and text."""

    default_code = 0
    default_text = ""

    def __init__(
        self,
        reply_code: int | None = None,
        reply_text: str | None = None,
        class_id: int = 0,
        method_id: int = 0,
    ) -> None:
        self.reply_code = self.default_code if reply_code is None else reply_code
        self.reply_text = self.default_text if reply_text is None else reply_text
        self.class_id = class_id
        self.method_id = method_id
        super().__init__(self.reply_code, self.reply_text)

    @property
    def code(self) -> int:
        """The reply code (the name the original async_amqp used)."""
        return self.reply_code

    @property
    def message(self) -> str:
        """The reply text (the name the original async_amqp used)."""
        return self.reply_text

    def __str__(self) -> str:
        where = f" (caused by method {self.class_id}/{self.method_id})" if self.class_id else ""
        if not self.reply_code:  # raised by the client itself: no AMQP reply code to show
            return f"{self.reply_text}{where}"
        return f"{self.reply_code} {self.reply_text}{where}"


class ChannelClosedError(_ReplyError):
    """The channel is closed: the broker closed it with an error, or it was closed before."""

    default_text = "Channel is closed"


class AccessRefusedError(ChannelClosedError):
    """403 ACCESS_REFUSED on a channel (reserved names, exclusive consumers, …)."""

    default_code = 403


class NotFoundError(ChannelClosedError):
    """404 NOT_FOUND: the exchange or queue does not exist."""

    default_code = 404


class ResourceLockedError(ChannelClosedError):
    """405 RESOURCE_LOCKED: an exclusive queue belongs to another connection."""

    default_code = 405


class PreconditionFailedError(ChannelClosedError):
    """406 PRECONDITION_FAILED: inequivalent redeclare, unknown delivery tag, …"""

    default_code = 406


class ConnectionClosedError(_ReplyError):
    """The connection is closed or was lost; pending calls fail with this."""

    default_text = "Connection is closed"


class ConnectionLostError(ConnectionClosedError):
    """The transport ended without a closing handshake."""

    default_text = "connection lost"


class HeartbeatTimeoutError(ConnectionLostError):
    """The broker sent nothing for two heartbeat intervals."""

    default_text = "no heartbeat or traffic from the broker for two heartbeat intervals"


class ConnectionForcedError(ConnectionClosedError):
    """320 CONNECTION_FORCED: an operator or a broker shutdown closed the connection."""

    default_code = 320


class AuthenticationError(ConnectionClosedError):
    """The broker refused the login (403 ACCESS_REFUSED during the handshake)."""

    default_code = 403


class FrameError(ConnectionClosedError):
    """501 FRAME_ERROR: a malformed frame."""

    default_code = 501


class AmqpSyntaxError(ConnectionClosedError):
    """502 SYNTAX_ERROR."""

    default_code = 502


class CommandInvalidError(ConnectionClosedError):
    """503 COMMAND_INVALID: for example an unknown exchange type."""

    default_code = 503


class InvalidChannelError(ConnectionClosedError):
    """504 CHANNEL_ERROR: a method on a channel that is not open."""

    default_code = 504


class UnexpectedFrameError(ConnectionClosedError):
    """505 UNEXPECTED_FRAME."""

    default_code = 505


class ResourceError(ConnectionClosedError):
    """506 RESOURCE_ERROR."""

    default_code = 506


class NotAllowedError(ConnectionClosedError):
    """530 NOT_ALLOWED: unknown vhost, channel_max reached, consumer tag reuse, …"""

    default_code = 530


class NotImplementedByBrokerError(ConnectionClosedError):
    """540 NOT_IMPLEMENTED: e.g. ``immediate=True`` or ``basic_recover(requeue=False)``."""

    default_code = 540


class BrokerInternalError(ConnectionClosedError):
    """541 INTERNAL_ERROR."""

    default_code = 541


class ProtocolViolationError(ConnectionClosedError):
    """The broker sent bytes that break AMQP 0-9-1, and the client ended the connection.

    ``reply_code`` and ``reply_text`` are what the client sent in its
    connection.close, with RabbitMQ's code for the fault (501 FRAME_ERROR, 503
    COMMAND_INVALID, 504 CHANNEL_ERROR, 505 UNEXPECTED_FRAME, 530 NOT_ALLOWED,
    540 NOT_IMPLEMENTED), or 0 when the client just dropped the socket (the peer
    does not speak AMQP, or RabbitMQ itself would drop it). The error the broker
    reports when *it* closes the connection is the class of its code instead
    (:class:`FrameError`, ...); :class:`MalformedFrameError` and
    :class:`FrameOrderError` are both.
    """


class MalformedFrameError(ProtocolViolationError, FrameError):
    """The broker sent a frame the client cannot decode; the client closed with 501.

    Unknown frame types, frames over ``frame_max``, a bad frame-end octet, truncated
    method arguments and undecodable message properties. (The sans-IO core has a
    ``FrameError`` of its own; this is the public one.)
    """

    default_code = 501


class FrameOrderError(ProtocolViolationError, UnexpectedFrameError):
    """The broker sent a frame the connection's state does not allow; the client closed
    with 505 (content out of order, a frame type a channel cannot carry)."""

    default_code = 505


class ProtocolMismatchError(ProtocolViolationError):
    """The server does not speak AMQP 0-9-1 (it answered with another protocol header, or
    is no AMQP server at all: an HTTP, NATS, ... server)."""

    default_code = 0


class BrokerUnreachableError(ConnectionClosedError, OSError):
    """No TCP connection to the broker's host and port (refused, unreachable, no such host).

    Also an :class:`OSError`, as the underlying error was.
    """


class PublishFailedError(AmqpError):
    """The broker nacked a publish (confirm mode).

    :param delivery_tag: the publish's sequence number on its channel
    """

    def __init__(self, delivery_tag: int, reason: str = "the broker nacked the message") -> None:
        super().__init__(delivery_tag, reason)
        self.delivery_tag = delivery_tag
        self.reason = reason

    def __str__(self) -> str:
        return f"publish {self.delivery_tag} failed: {self.reason}"


class MessageReturnedError(PublishFailedError):
    """A mandatory publish could not be routed and came back (confirm mode).

    The message is also yielded by ``async for ... in channel``.
    """

    def __init__(
        self,
        delivery_tag: int,
        envelope: ReturnEnvelope,
        body: bytes,
        properties: Properties,
    ) -> None:
        super().__init__(delivery_tag, f"returned: {envelope.reply_code} {envelope.reply_text}")
        self.envelope = envelope
        self.body = body
        self.properties = properties
        self.reply_code = envelope.reply_code
        self.reply_text = envelope.reply_text


class EmptyQueueError(AmqpError):
    """``basic_get`` found no message."""


class NoChannelAvailableError(AmqpError):
    """Every channel number up to the negotiated channel_max is in use."""


class DuplicateConsumerTagError(AmqpError):
    """A consumer with this tag already exists on the channel."""

    def __str__(self) -> str:
        return f"consumer tag {self.args[0]!r} is already used on this channel"


class ConsumerCancelledError(AmqpError):
    """The consumer was cancelled."""

    def __str__(self) -> str:
        return f"consumer {self.args[0]!r} was cancelled"


class SynchronizationError(AmqpError):
    """The broker answered with a method that does not match the pending request."""


class ConnectionBlockedError(AmqpError, TimeoutError):
    """The broker kept publishing blocked (connection.blocked) past the deadline."""

    def __init__(self, reason: str, timeout: float) -> None:
        super().__init__(reason, timeout)
        self.reason = reason
        self.timeout = timeout

    def __str__(self) -> str:
        return f"publishing blocked by the broker for {self.timeout}s: {self.reason}"


class ConfigurationError(AmqpError, ValueError):
    """A connection parameter is invalid."""


class HandshakeTimeoutError(ConnectionClosedError, TimeoutError):
    """The connection did not open within ``connection_timeout``.

    :param host: the broker's host
    :param port: the broker's port
    :param stage: what the client was waiting for when the time ran out
    :param timeout: the deadline in seconds
    """

    def __init__(self, host: str, port: int, stage: str, timeout: float) -> None:
        super().__init__(0, f"no connection to {host}:{port} within {timeout:g}s: stalled {stage}")
        self.host = host
        self.port = port
        self.stage = stage
        self.timeout = timeout


class TLSError(ConnectionClosedError):
    """The TLS handshake failed; ``reason`` names the cause (untrusted CA, hostname, expiry)."""

    default_text = "TLS handshake failed"

    def __init__(self, reason: str, *, cause: BaseException | None = None) -> None:
        super().__init__(0, f"TLS handshake failed: {reason}")
        self.reason = reason
        self.__cause__ = cause


class ReconnectTimeoutError(ConnectionLostError):
    """``connect_robust`` gave up: no connection could be made within ``reconnect_timeout``.

    The last attempt's error is the ``__cause__``.
    """

    default_text = "no connection within reconnect_timeout"


class PublishNotConfirmedError(AmqpError):
    """A confirm-mode publish was sent, but the connection was lost before the broker
    confirmed it (``connect_robust``): the message may or may not have reached the queue.

    Publish it again to be sure (at-least-once: the queue may then hold it twice).
    The connection error is the ``__cause__``.
    """

    def __init__(self, reason: BaseException) -> None:
        super().__init__(f"publish not confirmed: the connection was lost ({reason})")
        self.reason = reason


class ChannelNotRecoveredError(ChannelClosedError):
    """``connect_robust`` could not re-open this channel or replay its state after a reconnect.

    The broker's refusal is the ``__cause__`` (e.g. a queue of the same name now exists
    with other arguments).
    """

    default_text = "channel not recovered after a reconnect"


_E = TypeVar("_E", bound=_ReplyError)


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
