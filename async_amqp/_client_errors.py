"""The exceptions the client raises on its own: unreachable brokers, refused publishes,
misuse, timeouts, TLS, configuration, and connect_robust's recovery errors.

Users import them from :mod:`async_amqp.exceptions`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._reply_errors import AmqpError, ChannelClosedError, ConnectionClosedError, ConnectionLostError

if TYPE_CHECKING:
    from ._messages import Properties, ReturnEnvelope


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


# Shown in tracebacks, documented and pickled as async_amqp.exceptions.<name>,
# where users import them from.
for _value in list(globals().values()):
    if isinstance(_value, type) and _value.__module__ == __name__:
        _value.__module__ = "async_amqp.exceptions"
