"""Errors raised by the sans-IO core.

The core never closes anything itself: it raises :class:`ProtocolError`
describing *how* the peer broke the protocol (reply code, RabbitMQ-style
reply text, the offending class/method), and the I/O layer of whichever role
is running decides how to close.
"""

from __future__ import annotations

from .codes import ReplyCode, reply_name


class ProtocolError(Exception):
    """The peer violated AMQP framing or sequencing; the connection must end.

    :param reply_code: the connection-level reply code (501, 503, 504, 505, ...)
    :param detail: the text after ``NAME - `` in the reply text
    :param class_id: class of the offending method, 0 for frame-level errors
    :param method_id: method of the offending method, 0 for frame-level errors
    :param send_close: ``False`` when RabbitMQ just drops the socket
    """

    def __init__(
        self,
        reply_code: int,
        detail: str,
        *,
        class_id: int = 0,
        method_id: int = 0,
        send_close: bool = True,
    ) -> None:
        self.reply_code = reply_code
        self.reply_text = (
            f"{reply_name(reply_code)} - {detail}" if detail else reply_name(reply_code)
        )
        self.class_id = class_id
        self.method_id = method_id
        self.send_close = send_close
        super().__init__(self.reply_text)


class FrameError(ProtocolError):
    """A frame could not be parsed (501 FRAME_ERROR)."""

    def __init__(
        self, detail: str, *, class_id: int = 0, method_id: int = 0, send_close: bool = True
    ) -> None:
        super().__init__(
            ReplyCode.FRAME_ERROR,
            detail,
            class_id=class_id,
            method_id=method_id,
            send_close=send_close,
        )


class UnexpectedFrameError(ProtocolError):
    """A frame arrived that the channel's state does not allow (505 UNEXPECTED_FRAME)."""

    def __init__(self, detail: str, *, class_id: int = 0, method_id: int = 0) -> None:
        super().__init__(ReplyCode.UNEXPECTED_FRAME, detail, class_id=class_id, method_id=method_id)


class ProtocolHeaderMismatch(Exception):
    """The peer does not speak AMQP 0-9-1 (it sent an unexpected protocol header)."""

    def __init__(self, received: bytes) -> None:
        self.received = bytes(received)
        if self.received.startswith(b"AMQP"):
            text = f"peer answered with protocol header {self.received!r}, not AMQP 0-9-1"
        else:
            kind = "an HTTP server" if self.received.startswith(b"HTTP/") else "not AMQP"
            text = f"the peer is not an AMQP broker ({kind}): it answered {self.received!r}"
        super().__init__(text)
