"""Sending and reading raw frames: the byte-level half of :class:`~.raw.RawConnection`.

:class:`RawFrameIO` sends whatever it is given (bytes, frames, pamqp methods,
a publish cut into frames) and reads frames back with a timeout on every read,
decoding methods where it can. The AMQP steps built on it (handshake, channels,
closes) are :class:`~.raw.RawConnection`'s.
"""

from __future__ import annotations

from typing import Self, TypeVar

import anyio
import anyio.abc
from pamqp import commands
from pamqp.base import Frame

from async_amqp._core.wire import (
    FRAME_BODY,
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    FRAME_METHOD,
    FrameReader,
    decode_method,
    encode_content,
    encode_method,
    encode_properties,
)

from ._rawframes import (
    PeerClosedError,
    RawFrame,
    UnexpectedRawFrameError,
    decode_close,
    encode_frame,
)

__all__ = ["RawFrameIO"]

_M = TypeVar("_M", bound=Frame)


class RawFrameIO:
    """Frames to and from a byte stream, every read with a timeout.

    :param stream: a connected byte stream
    :param timeout: default seconds every read may wait
    """

    def __init__(self, stream: anyio.abc.ByteStream, *, timeout: float = 5.0) -> None:
        self.stream = stream
        self.timeout = timeout
        self.frame_max = 0
        self._reader = FrameReader()
        self._frames: list[RawFrame] = []
        self._eof = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the socket (without any AMQP close)."""
        await anyio.aclose_forcefully(self.stream)

    # -- sending --------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Send bytes as they are.

        :param data: the bytes to send
        """
        await self.stream.send(data)

    async def send_frame(self, frame_type: int, channel_id: int, payload: bytes) -> None:
        """Send one frame.

        :param frame_type: the frame type octet
        :param channel_id: the channel number
        :param payload: the payload
        """
        await self.send(encode_frame(frame_type, channel_id, payload))

    async def send_method(self, channel_id: int, method: Frame) -> None:
        """Send a pamqp method as one method frame.

        :param channel_id: the channel number
        :param method: the method
        """
        await self.send(encode_method(channel_id, method))

    async def send_heartbeat(self, channel_id: int = 0) -> None:
        """Send a heartbeat frame (on a non-zero channel it is a protocol violation).

        :param channel_id: the channel number
        """
        await self.send_frame(FRAME_HEARTBEAT, channel_id, b"")

    async def publish(
        self,
        channel_id: int,
        body: bytes = b"",
        *,
        exchange: str = "",
        routing_key: str = "",
        properties: commands.Basic.Properties | bytes | None = None,
        mandatory: bool = False,
        immediate: bool = False,
        frame_max: int | None = None,
    ) -> None:
        """Send basic.publish, its content header and body frames in one write.

        :param channel_id: the channel number
        :param body: the message body
        :param exchange: exchange name
        :param routing_key: routing key
        :param properties: pamqp properties, or an already encoded property list
        :param mandatory: the mandatory flag
        :param immediate: the immediate flag
        :param frame_max: split the body at ``frame_max - 8`` (default: the negotiated one)
        """
        method = commands.Basic.Publish(
            exchange=exchange, routing_key=routing_key, mandatory=mandatory, immediate=immediate
        )
        payload = properties if isinstance(properties, bytes) else encode_properties(properties)
        pieces = encode_content(channel_id, payload, body, frame_max or self.frame_max)
        await self.send(encode_method(channel_id, method) + b"".join(bytes(p) for p in pieces))

    # -- receiving ------------------------------------------------------------------

    async def _fill(self) -> None:
        with anyio.fail_after(self.timeout):
            try:
                data = await self.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
                self._eof = True
                return
        for frame_type, channel_id, payload in self._reader.feed(data):
            method = None
            if frame_type == FRAME_METHOD:
                try:
                    method = decode_method(payload)
                except Exception:  # an undecodable method is returned raw
                    method = decode_close(payload)
            self._frames.append(RawFrame(frame_type, channel_id, payload, method))

    async def receive_bytes(self, size: int) -> bytes:
        """Read exactly *size* raw bytes (e.g. a protocol header sent back).

        :param size: how many bytes
        :raises PeerClosedError: when the peer closes first
        :raises TimeoutError: when they do not arrive within ``timeout`` seconds
        """
        buffer = bytearray()
        with anyio.fail_after(self.timeout):
            while len(buffer) < size:
                try:
                    buffer += await self.stream.receive(size - len(buffer))
                except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
                    raise PeerClosedError(bytes(buffer)) from None
        return bytes(buffer)

    async def receive_frame(self, *, skip_heartbeats: bool = True) -> RawFrame:
        """Return the next frame.

        :param skip_heartbeats: ignore heartbeat frames
        :raises PeerClosedError: when the peer closes the connection first
        :raises TimeoutError: when no frame arrives within ``timeout`` seconds
        """
        while True:
            while not self._frames:
                if self._eof:
                    raise PeerClosedError(b"")
                await self._fill()
            frame = self._frames.pop(0)
            if skip_heartbeats and frame.is_heartbeat:
                continue
            return frame

    async def expect(self, method_class: type[_M], channel_id: int | None = None) -> _M:
        """Return the next frame's method, which must be a *method_class*.

        :param method_class: the pamqp class expected
        :param channel_id: the channel it must arrive on (``None``: any)
        :raises UnexpectedRawFrameError: when another frame arrives
        :raises PeerClosedError: when the peer closes the connection first
        """
        frame = await self.receive_frame()
        if not isinstance(frame.method, method_class) or (
            channel_id is not None and frame.channel_id != channel_id
        ):
            where = "" if channel_id is None else f" on channel {channel_id}"
            raise UnexpectedRawFrameError(f"{method_class.__name__}{where}", frame)
        return frame.method

    async def expect_content(self) -> tuple[commands.Basic.Properties, bytes]:
        """Read a content header and its body frames; return ``(properties, body)``.

        :raises UnexpectedRawFrameError: when another frame arrives
        """
        frame = await self.receive_frame()
        if frame.frame_type != FRAME_HEADER:
            raise UnexpectedRawFrameError("a content header", frame)
        _, body_size, properties = frame.content_header()
        body = bytearray()
        while len(body) < body_size:
            frame = await self.receive_frame()
            if frame.frame_type != FRAME_BODY:
                raise UnexpectedRawFrameError("a content body frame", frame)
            body += frame.payload
        return properties, bytes(body)

    async def wait_closed(self) -> list[RawFrame]:
        """Wait until the peer closes the socket; return the frames that came first.

        Heartbeats are skipped.

        :raises TimeoutError: when nothing arrives for ``timeout`` seconds and the socket
            is still open
        """
        frames: list[RawFrame] = []
        while True:
            try:
                frames.append(await self.receive_frame())
            except PeerClosedError:
                return frames
