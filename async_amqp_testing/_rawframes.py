"""Frames for the raw test client: what it receives, and helpers to build what it sends.

Split from :mod:`async_amqp_testing.raw`, which re-exports everything here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pamqp import commands, encode
from pamqp.base import Frame

from async_amqp._core.handshake import CLIENT_CAPABILITIES
from async_amqp._core.wire import (
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    decode_content_header,
    decode_properties,
    make_method,
)

__all__ = [
    "DEFAULT_CAPABILITIES",
    "PeerClosedError",
    "RawFrame",
    "UnexpectedRawFrameError",
    "amqplain_response",
    "decode_close",
    "encode_frame",
    "plain_response",
]

#: Capabilities :meth:`RawConnection.handshake` announces unless told otherwise (those of
#: async_amqp's client, which are the usual RabbitMQ clients').
DEFAULT_CAPABILITIES: dict[str, Any] = dict(CLIENT_CAPABILITIES)


class PeerClosedError(Exception):
    """The peer closed the connection while a frame was awaited.

    :param buffered: bytes received that did not make a whole frame
    """

    def __init__(self, buffered: bytes = b"") -> None:
        self.buffered = buffered
        super().__init__(f"the peer closed the connection ({len(buffered)} bytes left over)")


class UnexpectedRawFrameError(AssertionError):
    """A frame other than the expected one arrived.

    :param frame: the frame that arrived
    """

    def __init__(self, expected: str, frame: RawFrame) -> None:
        self.frame = frame
        super().__init__(f"expected {expected}, received {frame!r}")


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One received frame; ``method`` is set for method frames that decode."""

    frame_type: int
    channel_id: int
    payload: bytes
    method: Frame | None = None

    @property
    def is_heartbeat(self) -> bool:
        """True for a heartbeat frame."""
        return self.frame_type == FRAME_HEARTBEAT

    def content_header(self) -> tuple[int, int, commands.Basic.Properties]:
        """Decode a content header frame as ``(class_id, body_size, properties)``.

        :raises ValueError: when this is not a content header frame
        """
        if self.frame_type != FRAME_HEADER:
            raise ValueError(f"frame type {self.frame_type} is not a content header")
        class_id, body_size, properties_payload = decode_content_header(self.payload)
        return class_id, body_size, decode_properties(properties_payload)

    def __repr__(self) -> str:
        if self.method is not None:
            return f"RawFrame(channel_id={self.channel_id}, method={self.method!r})"
        return (
            f"RawFrame(frame_type={self.frame_type}, channel_id={self.channel_id}, "
            f"payload={self.payload[:64]!r}{'...' if len(self.payload) > 64 else ''})"
        )


def encode_frame(frame_type: int, channel_id: int, payload: bytes, frame_end: int = 0xCE) -> bytes:
    """Encode one frame around *payload* (a wrong *frame_end* makes a broken frame).

    :param frame_type: 1 method, 2 header, 3 body, 8 heartbeat, or anything else
    :param channel_id: the channel number
    :param payload: the frame payload
    :param frame_end: the end octet (0xCE on a valid frame)
    """
    return (
        frame_type.to_bytes(1, "big")
        + channel_id.to_bytes(2, "big")
        + len(payload).to_bytes(4, "big")
        + payload
        + bytes((frame_end,))
    )


def plain_response(user: str, password: str) -> bytes:
    """Encode a SASL PLAIN response (``\\0user\\0password``).

    :param user: the user name
    :param password: the password
    """
    return b"\0" + user.encode() + b"\0" + password.encode()


def amqplain_response(user: str, password: str) -> bytes:
    """Encode an AMQPLAIN response (a field table without its length prefix).

    :param user: the user name
    :param password: the password
    """
    return encode.field_table({"LOGIN": user, "PASSWORD": password})[4:]


_CLOSE_CLASSES: dict[bytes, type[commands.Connection.Close] | type[commands.Channel.Close]] = {
    b"\x00\x0a\x00\x32": commands.Connection.Close,
    b"\x00\x14\x00\x28": commands.Channel.Close,
}


def decode_close(payload: bytes) -> Frame | None:
    """Decode a close whose reply text is not UTF-8 (RabbitMQ quotes raw Latin-1 bytes)."""
    close_class = _CLOSE_CLASSES.get(payload[:4])
    if close_class is None or len(payload) < 7:
        return None
    length = payload[6]
    end = 7 + length
    if len(payload) < end + 4:
        return None
    text = payload[7:end].decode("utf-8", "surrogateescape")
    reply_code = int.from_bytes(payload[4:6], "big")
    class_id = int.from_bytes(payload[end : end + 2], "big")
    method_id = int.from_bytes(payload[end + 2 : end + 4], "big")
    return make_method(
        close_class,
        reply_code=reply_code,
        reply_text=text,
        class_id=class_id,
        method_id=method_id,
    )
