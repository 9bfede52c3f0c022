"""Errors raised by the sans-IO core.

The core never closes anything itself: it raises :class:`ProtocolError`
describing *how* the peer broke the protocol (reply code, RabbitMQ-style
reply text, the offending class/method), and the I/O layer of whichever role
is running decides how to close.
"""

from __future__ import annotations

import enum

from .codes import ReplyCode, reply_name


class ClosePolicy(enum.Enum):
    """How a connection ends after a protocol error (RabbitMQ's behaviour, per error)."""

    #: Send connection.close with the error's code and text, then wait for close-ok.
    CLOSE = "close"
    #: Send connection.close, then read nothing more: the socket closes after a grace
    #: period, close-ok or not (RabbitMQ after a bad frame end or an oversized frame).
    CLOSE_THEN_DROP = "close_then_drop"
    #: Send nothing; close the socket after a grace period (errors during the handshake).
    DROP_AFTER_DELAY = "drop_after_delay"
    #: Send nothing; close the socket at once (RabbitMQ's frame parser crashed: an
    #: unknown method, a bad field table in method arguments).
    DROP_NOW = "drop_now"


#: The policies that send a connection.close.
_SENDS_CLOSE = frozenset({ClosePolicy.CLOSE, ClosePolicy.CLOSE_THEN_DROP})


class ProtocolError(Exception):
    """The peer violated AMQP framing or sequencing; the connection must end.

    :param reply_code: the connection-level reply code (501, 503, 504, 505, ...)
    :param detail: the text after ``NAME - `` in the reply text
    :param class_id: class of the offending method, 0 for frame-level errors
    :param method_id: method of the offending method, 0 for frame-level errors
    :param send_close: ``False`` when RabbitMQ just drops the socket (after a delay);
        ignored when *policy* is given
    :param policy: how the connection ends (see :class:`ClosePolicy`)
    """

    def __init__(
        self,
        reply_code: int,
        detail: str,
        *,
        class_id: int = 0,
        method_id: int = 0,
        send_close: bool = True,
        policy: ClosePolicy | None = None,
    ) -> None:
        self.reply_code = reply_code
        self.reply_text = (
            f"{reply_name(reply_code)} - {detail}" if detail else reply_name(reply_code)
        )
        self.class_id = class_id
        self.method_id = method_id
        if policy is None:
            policy = ClosePolicy.CLOSE if send_close else ClosePolicy.DROP_AFTER_DELAY
        self.policy = policy
        super().__init__(self.reply_text)

    @property
    def send_close(self) -> bool:
        """True when the answer is a connection.close (else a dropped socket)."""
        return self.policy in _SENDS_CLOSE


class FrameError(ProtocolError):
    """A frame could not be parsed (501 FRAME_ERROR)."""

    def __init__(
        self,
        detail: str,
        *,
        class_id: int = 0,
        method_id: int = 0,
        send_close: bool = True,
        policy: ClosePolicy | None = None,
    ) -> None:
        super().__init__(
            ReplyCode.FRAME_ERROR,
            detail,
            class_id=class_id,
            method_id=method_id,
            send_close=send_close,
            policy=policy,
        )


class UnexpectedFrameError(ProtocolError):
    """A frame arrived that the channel's state does not allow (505 UNEXPECTED_FRAME)."""

    def __init__(self, detail: str, *, class_id: int = 0, method_id: int = 0) -> None:
        super().__init__(ReplyCode.UNEXPECTED_FRAME, detail, class_id=class_id, method_id=method_id)


class NotAmqpPeer(ProtocolError):
    """The peer's first bytes are not an AMQP 0-9-1 greeting (an HTTP or NATS server...).

    Nothing is sent back: the peer does not speak AMQP, so a connection.close would
    mean nothing to it.

    :param received: the first bytes the peer sent
    """

    def __init__(self, received: bytes, detail: str | None = None) -> None:
        self.received = bytes(received)
        text = detail or f"the peer sent {self.received[:64]!r}, not an AMQP 0-9-1 connection.start"
        super().__init__(0, text, send_close=False)
        self.reply_text = text  # no reply code, so no "NAME - " prefix
        self.args = (text,)


class ProtocolHeaderMismatch(NotAmqpPeer):
    """The peer answered with a protocol header: it does not speak AMQP 0-9-1 (or refused it)."""

    def __init__(self, received: bytes) -> None:
        super().__init__(
            received, f"peer answered with protocol header {bytes(received)!r}, not AMQP 0-9-1"
        )
