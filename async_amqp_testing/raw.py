"""A raw AMQP 0-9-1 client: send any bytes or frames, read frames back.

Ordinary clients refuse to break the protocol, so they cannot test how a
broker answers a broken one. :class:`RawConnection` can: it sends whatever it
is given (hand-made bytes, frames, pamqp methods) and returns what the broker
sends, decoded where possible, with a timeout on every read. It is what the
fake broker's error-case tests use, and it works against any broker (the same
test can run against RabbitMQ).
"""

from __future__ import annotations

import ssl
from typing import Any, TypeVar

import anyio
import anyio.abc
from pamqp import commands
from pamqp.base import Frame

from async_amqp._core.wire import (
    FRAME_BODY,
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    FRAME_METHOD,
    PROTOCOL_HEADER,
    FrameReader,
    decode_method,
    encode_content,
    encode_method,
    encode_properties,
)

from ._rawframes import (
    DEFAULT_CAPABILITIES,
    PeerClosedError,
    RawFrame,
    UnexpectedRawFrameError,
    amqplain_response,
    decode_close,
    encode_frame,
    plain_response,
)

__all__ = [
    "DEFAULT_CAPABILITIES",
    "PeerClosedError",
    "RawConnection",
    "RawFrame",
    "UnexpectedRawFrameError",
    "amqplain_response",
    "encode_frame",
    "plain_response",
]

_M = TypeVar("_M", bound=Frame)


class RawConnection:
    """A byte-level AMQP connection for tests; use :meth:`connect`.

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

    @classmethod
    async def connect(
        cls,
        host: str = "127.0.0.1",
        port: int = 5672,
        *,
        ssl_context: ssl.SSLContext | None = None,
        read_timeout: float = 5.0,
    ) -> RawConnection:
        """Open a TCP (or TLS) connection; nothing is sent yet.

        :param host: broker address
        :param port: broker port
        :param ssl_context: wrap the connection in TLS with this context
        :param read_timeout: seconds every read may wait (the ``timeout`` attribute)
        :raises OSError: when the connection cannot be made
        """
        stream: anyio.abc.ByteStream
        if ssl_context is None:
            stream = await anyio.connect_tcp(host, port)
        else:
            stream = await anyio.connect_tcp(host, port, ssl_context=ssl_context, tls=True)
        return cls(stream, timeout=read_timeout)

    async def __aenter__(self) -> RawConnection:
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

    # -- conversations ------------------------------------------------------------------

    async def start(self, header: bytes = PROTOCOL_HEADER) -> commands.Connection.Start:
        """Send a protocol header and return the broker's connection.start.

        :param header: the 8-byte protocol header
        :raises UnexpectedRawFrameError: when something else arrives
        """
        await self.send(header)
        return await self.expect(commands.Connection.Start, 0)

    async def login(
        self,
        user: str = "guest",
        password: str = "guest",
        *,
        mechanism: str = "PLAIN",
        response: bytes | None = None,
        capabilities: dict[str, Any] | None = None,
        client_properties: dict[str, Any] | None = None,
    ) -> None:
        """Send connection.start-ok (PLAIN or AMQPLAIN credentials, or a given *response*).

        :param user: the user name
        :param password: the password
        :param mechanism: the SASL mechanism named in start-ok
        :param response: the SASL response as sent (default: encoded for *mechanism*)
        :param capabilities: announced capabilities (default :data:`DEFAULT_CAPABILITIES`)
        :param client_properties: extra client properties
        """
        if response is None:
            if mechanism == "AMQPLAIN":
                response = amqplain_response(user, password)
            else:
                response = plain_response(user, password)
        properties: dict[str, Any] = {"product": "async_amqp_testing.raw"}
        properties.update(client_properties or {})
        properties["capabilities"] = DEFAULT_CAPABILITIES if capabilities is None else capabilities
        start_ok = commands.Connection.StartOk(
            client_properties=properties, mechanism=mechanism, response="", locale="en_US"
        )
        start_ok.response = response  # type: ignore[assignment]  # sent byte for byte
        await self.send_method(0, start_ok)

    async def tune(
        self,
        *,
        channel_max: int | None = None,
        frame_max: int | None = None,
        heartbeat: int | None = 0,
    ) -> commands.Connection.Tune:
        """Read connection.tune and answer tune-ok (``None`` values echo the broker's).

        :param channel_max: channel_max to send back
        :param frame_max: frame_max to send back
        :param heartbeat: heartbeat to send back
        """
        tune = await self.expect(commands.Connection.Tune, 0)
        tune_ok = commands.Connection.TuneOk(
            channel_max=tune.channel_max if channel_max is None else channel_max,
            frame_max=tune.frame_max if frame_max is None else frame_max,
            heartbeat=tune.heartbeat if heartbeat is None else heartbeat,
        )
        self.frame_max = tune_ok.frame_max
        await self.send_method(0, tune_ok)
        return tune

    async def open(self, vhost: str = "/") -> None:
        """Send connection.open and wait for open-ok.

        :param vhost: the virtual host
        :raises UnexpectedRawFrameError: when the broker answers otherwise
        """
        await self.send_method(0, commands.Connection.Open(virtual_host=vhost))
        await self.expect(commands.Connection.OpenOk, 0)

    async def handshake(
        self,
        user: str = "guest",
        password: str = "guest",
        vhost: str = "/",
        *,
        mechanism: str = "PLAIN",
        capabilities: dict[str, Any] | None = None,
        channel_max: int | None = None,
        frame_max: int | None = None,
        heartbeat: int | None = 0,
    ) -> commands.Connection.Tune:
        """Perform the whole handshake up to open-ok; return the broker's tune.

        :param user: the user name
        :param password: the password
        :param vhost: the virtual host
        :param mechanism: PLAIN or AMQPLAIN
        :param capabilities: announced capabilities (default :data:`DEFAULT_CAPABILITIES`)
        :param channel_max: channel_max for tune-ok (default: the broker's)
        :param frame_max: frame_max for tune-ok (default: the broker's)
        :param heartbeat: heartbeat for tune-ok (default 0: none)
        :raises UnexpectedRawFrameError: when the broker answers otherwise
        """
        await self.start()
        await self.login(user, password, mechanism=mechanism, capabilities=capabilities)
        tune = await self.tune(channel_max=channel_max, frame_max=frame_max, heartbeat=heartbeat)
        await self.open(vhost)
        return tune

    async def open_channel(self, channel_id: int = 1) -> None:
        """Open a channel and wait for open-ok.

        :param channel_id: the channel number
        :raises UnexpectedRawFrameError: when the broker answers otherwise
        """
        await self.send_method(channel_id, commands.Channel.Open())
        await self.expect(commands.Channel.OpenOk, channel_id)

    async def call(self, channel_id: int, method: Frame, reply_class: type[_M]) -> _M:
        """Send *method* and return its reply, which must be a *reply_class*.

        :param channel_id: the channel number
        :param method: the request
        :param reply_class: the reply's pamqp class
        :raises UnexpectedRawFrameError: when something else arrives
        """
        await self.send_method(channel_id, method)
        return await self.expect(reply_class, channel_id)

    async def expect_connection_close(self, *, answer: bool = True) -> commands.Connection.Close:
        """Wait for the broker's connection.close (optionally answering close-ok).

        Method frames on other channels that arrive first are skipped.

        :param answer: send connection.close-ok
        :raises UnexpectedRawFrameError: when another frame arrives
        """
        while True:
            frame = await self.receive_frame()
            if isinstance(frame.method, commands.Connection.Close):
                break
            if frame.channel_id != 0 and frame.method is not None:
                continue  # late traffic on channels
            raise UnexpectedRawFrameError("connection.close", frame)
        if answer:
            await self.send_method(0, commands.Connection.CloseOk())
        return frame.method

    async def expect_channel_close(
        self, channel_id: int, *, answer: bool = True
    ) -> commands.Channel.Close:
        """Wait for channel.close on *channel_id* (optionally answering close-ok).

        :param channel_id: the channel number
        :param answer: send channel.close-ok
        :raises UnexpectedRawFrameError: when another frame arrives
        """
        close = await self.expect(commands.Channel.Close, channel_id)
        if answer:
            await self.send_method(channel_id, commands.Channel.CloseOk())
        return close

    async def close(self) -> None:
        """Close gracefully: connection.close, wait for close-ok, close the socket."""
        try:
            await self.send_method(0, commands.Connection.Close(200, "Goodbye", 0, 0))
            while True:
                frame = await self.receive_frame()
                if isinstance(frame.method, commands.Connection.CloseOk):
                    break
        finally:
            await self.aclose()
