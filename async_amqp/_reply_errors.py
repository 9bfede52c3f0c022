"""The exceptions that carry an AMQP reply code: the broker's channel and connection closes.

Channel errors (403, 404, 405, 406) end only their channel and are
:class:`ChannelClosedError` subclasses; connection errors end the connection and are
:class:`ConnectionClosedError` subclasses; a fault the client finds in the broker's
bytes is a :class:`ProtocolViolationError`. Users import them from
:mod:`async_amqp.exceptions`, which also builds them from reply codes.
"""

from __future__ import annotations


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


# Shown in tracebacks, documented and pickled as async_amqp.exceptions.<name>,
# where users import them from.
for _value in list(globals().values()):
    if isinstance(_value, type) and _value.__module__ == __name__:
        _value.__module__ = "async_amqp.exceptions"
