"""Per-channel content assembly: a content method, its header, then its body frames.

Frames of other channels may interleave, so each channel owns one assembler.
The error texts are RabbitMQ's, so the broker can send them as they are.
"""

from __future__ import annotations

from typing import Any

from pamqp.base import Frame

from .codes import class_id_of, method_id_of
from .errors import FrameError, ProtocolError, UnexpectedFrameError
from .properties import decode_values
from .wire import decode_content_header

#: Basic class id: the only content class AMQP 0-9-1 uses.
BASIC_CLASS_ID = 60


def decode_message_properties(payload: bytes, method: Frame) -> tuple[Any, ...]:
    """Decode a received message's property list (14 values in wire order).

    :param payload: the content header's flags and property list
    :param method: the content method (deliver, get-ok, return), named in the error
    :raises FrameError: when the list cannot be decoded (501, with the method's ids)
    """
    try:
        return decode_values(payload)
    except ProtocolError:
        raise
    except (ValueError, TypeError, OverflowError) as error:
        raise FrameError(
            str(error), class_id=class_id_of(method), method_id=method_id_of(method)
        ) from error


class ContentAssembler:
    """Collects one message (method, properties payload, body) on one channel."""

    __slots__ = ("_body_size", "_chunks", "_received", "method", "properties_payload")

    def __init__(self) -> None:
        self.method: Frame | None = None
        self.properties_payload = b""
        self._body_size = -1
        self._received = 0
        self._chunks: list[bytes] = []

    @property
    def expecting_content(self) -> bool:
        """True between a content-bearing method and the end of its body."""
        return self.method is not None

    def _where(self) -> tuple[int, int]:
        method = self.method
        if method is None:
            return 0, 0
        return class_id_of(method), method_id_of(method)

    def start(self, method: Frame) -> None:
        """Begin a message announced by *method* (publish, deliver, return or get-ok)."""
        self.method = method
        self._body_size = -1
        self._received = 0
        self._chunks = []

    def check_method_allowed(self) -> None:
        """Raise when a method frame arrives while this channel expects content.

        :raises UnexpectedFrameError: with RabbitMQ's text for the missing header or body
        """
        if self.method is None:
            return
        class_id, method_id = self._where()
        if self._body_size < 0:
            raise UnexpectedFrameError(
                f"expected content header for class {BASIC_CLASS_ID}, "
                "got non content header frame instead",
                class_id=class_id,
                method_id=method_id,
            )
        raise UnexpectedFrameError(
            "expected content body, got non content body frame instead",
            class_id=class_id,
            method_id=method_id,
        )

    def on_header(self, payload: bytes) -> bool:
        """Accept a content header; return True when the message is already complete.

        :raises UnexpectedFrameError: when no header is expected or its class is wrong
        """
        if self.method is None:
            raise UnexpectedFrameError("expected method frame, got non method frame instead")
        class_id, method_id = self._where()
        if self._body_size >= 0:
            raise UnexpectedFrameError(
                "expected content body, got non content body frame instead",
                class_id=class_id,
                method_id=method_id,
            )
        header_class, body_size, properties_payload = decode_content_header(payload)
        if payload[2:4] != b"\x00\x00":
            # RabbitMQ takes a header with a non-zero weight for something else.
            raise UnexpectedFrameError(
                f"expected content header for class {BASIC_CLASS_ID}, "
                "got non content header frame instead",
                class_id=class_id,
                method_id=method_id,
            )
        if header_class != BASIC_CLASS_ID:
            raise UnexpectedFrameError(
                f"expected content header for class {BASIC_CLASS_ID}, "
                f"got one for class {header_class} instead",
                class_id=class_id,
                method_id=method_id,
            )
        self._body_size = body_size
        self.properties_payload = properties_payload
        return body_size == 0

    def on_body(self, payload: bytes) -> bool:
        """Accept a body frame; return True when the body is complete.

        A body longer than announced does not complete: like RabbitMQ, the
        channel keeps waiting and the next method frame is the error.

        :raises UnexpectedFrameError: when no body is expected
        """
        if self.method is None:
            raise UnexpectedFrameError("expected method frame, got non method frame instead")
        if self._body_size < 0:
            class_id, method_id = self._where()
            raise UnexpectedFrameError(
                f"expected content header for class {BASIC_CLASS_ID}, "
                "got non content header frame instead",
                class_id=class_id,
                method_id=method_id,
            )
        self._chunks.append(payload)
        self._received += len(payload)
        return self._received == self._body_size

    def finish(self) -> tuple[Frame, bytes, bytes]:
        """Return ``(method, properties_payload, body)`` and reset for the next message."""
        method = self.method
        assert method is not None
        chunks = self._chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        result = (method, self.properties_payload, body)
        self.method = None
        self.properties_payload = b""
        self._body_size = -1
        self._received = 0
        self._chunks = []
        return result
