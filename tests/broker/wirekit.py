"""Helpers of the wire-side broker tests: a target (the fake broker or RabbitMQ) and
raw-connection shortcuts.

Raw-frame tests run against both targets: the fake broker must answer every
protocol violation exactly as RabbitMQ 3.10 does. Against RabbitMQ they use
exclusive, server-named queues only, so nothing outlives the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pamqp import commands

from async_amqp_testing import FakeBroker
from async_amqp_testing.raw import RawConnection

#: (reply_code, reply_text, class_id, method_id) of a close method. pamqp types the numbers
#: as optional (its constructors default them to None); a decoded close always has them.
CloseReply = tuple[int | None, str, int | None, int | None]


def close_reply(close: commands.Connection.Close | commands.Channel.Close) -> CloseReply:
    """The four fields of a connection.close or channel.close."""
    return (close.reply_code, close.reply_text or "", close.class_id, close.method_id)


@dataclass
class WireTarget:
    """A broker reachable over TCP: the fake broker (``broker`` set) or RabbitMQ."""

    kind: str
    host: str
    port: int
    broker: FakeBroker | None = None
    user: str = "guest"
    password: str = "guest"
    vhost: str = "/"

    @property
    def is_fake(self) -> bool:
        """True for the fake broker."""
        return self.broker is not None

    async def raw(self) -> RawConnection:
        """A new raw connection (nothing sent yet)."""
        return await RawConnection.connect(self.host, self.port, read_timeout=8.0)

    @asynccontextmanager
    async def opened(
        self, channel_id: int | None = 1, **handshake: Any
    ) -> AsyncIterator[RawConnection]:
        """A raw connection past the handshake, with *channel_id* open (None: no channel)."""
        raw = await self.raw()
        handshake.setdefault("user", self.user)
        handshake.setdefault("password", self.password)
        handshake.setdefault("vhost", self.vhost)
        try:
            await raw.handshake(**handshake)
            if channel_id is not None:
                await raw.open_channel(channel_id)
            yield raw
        finally:
            await raw.aclose()

    @asynccontextmanager
    async def bystander(self) -> AsyncIterator[RawConnection]:
        """A connection opened before a violation; check it with :func:`assert_usable`."""
        async with self.opened(1) as raw:
            await assert_usable(raw)
            yield raw

    async def assert_serving(self) -> None:
        """A new connection can still do a full round trip."""
        async with self.opened(1) as raw:
            await assert_usable(raw)
            await raw.close()


async def assert_usable(raw: RawConnection, channel_id: int = 1) -> None:
    """Declare an exclusive server-named queue on *channel_id* and expect declare-ok."""
    ok = await raw.call(
        channel_id, commands.Queue.Declare(queue="", exclusive=True), commands.Queue.DeclareOk
    )
    assert (ok.queue or "").startswith("amq.gen-")


async def connection_error(raw: RawConnection) -> CloseReply:
    """Expect connection.close, answer close-ok, expect the socket to close; return the reply."""
    close = await raw.expect_connection_close()
    await raw.wait_closed()
    return close_reply(close)


async def channel_error(raw: RawConnection, channel_id: int = 1) -> CloseReply:
    """Expect channel.close on *channel_id*, answer close-ok; return the reply."""
    return close_reply(await raw.expect_channel_close(channel_id))
