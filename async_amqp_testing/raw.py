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
    PROTOCOL_HEADER,
)

from ._rawframes import (
    DEFAULT_CAPABILITIES,
    PeerClosedError,
    RawFrame,
    UnexpectedRawFrameError,
    amqplain_response,
    encode_frame,
    plain_response,
)
from ._rawio import RawFrameIO

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


class RawConnection(RawFrameIO):
    """A byte-level AMQP connection for tests; use :meth:`connect`.

    Sending and reading (:meth:`send`, :meth:`send_method`, :meth:`receive_frame`,
    :meth:`expect`, ...) come from its base, ``_rawio.RawFrameIO``; the
    handshake and channel steps are defined here.

    :param stream: a connected byte stream
    :param timeout: default seconds every read may wait
    """

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
