"""The robust channel's plumbing: which plain channel is current, and running calls on it.

A :class:`RobustChannel` is the object users hold; behind it is the plain
:class:`~async_amqp.Channel` of the current connection, replaced on every
recovery. A call waits for a usable connection, runs on the current plain
channel, and — when the connection was lost under it — runs again on the next
one if repeating it is harmless (declares, binds, deletes, qos, consume), or
raises the connection's error if not (purge, recover, flow). A channel the broker
closed with a channel error, or the user closed, stays closed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.lowlevel

from .. import exceptions
from .policy import is_retryable
from .state import Link
from .topology import Topology

if TYPE_CHECKING:
    from .._channel import Channel
    from .._connection import AmqpProtocol
    from .consumer import RobustConsumer

logger = logging.getLogger("async_amqp.robust")

_T = TypeVar("_T")


class RobustChannelBase:
    """State and plumbing shared by the robust channel's methods."""

    def __init__(
        self,
        link: Link,
        topology: Topology,
        forget: Callable[[object], None],
        spawn: Callable[..., None],
    ) -> None:
        self._link = link
        #: start a task in the robust connection's task group
        self._spawn = spawn
        self._topology = topology
        self._forget = forget
        self._inner: Channel | None = None
        self._generation = 0
        self._error: BaseException | None = None
        self._closed = False
        self._consumers: list[RobustConsumer] = []
        self._qos: tuple[int, int, bool] | None = None
        self._confirming = False
        #: tags handed to the user are the broker's plus this connection's offset
        self._offset = 0
        self._max_tag = 0

    def __repr__(self) -> str:
        return f"<RobustChannel {self.channel_id} {'open' if self.is_open else 'closed'}>"

    @property
    def channel_id(self) -> int:
        """The current plain channel's number (it may change on reconnect)."""
        return 0 if self._inner is None else self._inner.channel_id

    @property
    def is_open(self) -> bool:
        """True until the channel is closed by the user, a channel error, or the connection's end.

        A channel waiting for a reconnect is open.
        """
        return not self._closed and self._error is None

    @property
    def publisher_confirms(self) -> bool:
        """True once confirm mode is on (it is restored on every reconnect)."""
        return self._confirming

    @property
    def close_reason(self) -> BaseException | None:
        """Why the channel ended, when a channel error or the connection's end ended it."""
        return self._error

    # -- plumbing --------------------------------------------------------------------

    async def _current(self) -> Channel:
        """The plain channel to use now, waiting for a reconnect if there is none."""
        while True:
            link = self._link
            if self._error is not None:
                raise self._error
            if link.fatal is not None:
                raise link.fatal
            if self._closed:
                raise exceptions.ChannelClosedError(0, "channel is closed")
            inner = self._inner
            if link.ready and inner is not None and self._generation == link.generation:
                if inner.is_open:
                    return inner
                self._fail(inner.close_reason)
                continue
            await link.wait_change()

    def _fail(self, reason: BaseException | None) -> None:
        """The current plain channel ended on a live connection: end this channel too."""
        if isinstance(reason, exceptions.ChannelClosedError):
            self.end(reason)
        else:
            self._closed = True
            self.end(None)

    async def _run(
        self, call: Callable[[Channel], Awaitable[_T]], *, repeatable: bool = True
    ) -> _T:
        """Run *call* on the current plain channel, again after a reconnect if *repeatable*."""
        while True:
            inner = await self._current()
            try:
                return await call(inner)
            except exceptions.ChannelClosedError as error:
                if not inner.is_open and inner.protocol.is_open:
                    self._fail(error)
                raise
            except exceptions.ConnectionClosedError as error:
                if not is_retryable(error) or self._link.fatal is not None:
                    raise
                if not repeatable:
                    raise
                logger.debug("repeating a call interrupted by a lost connection: %s", error)

    async def open(self) -> None:
        """Open the first plain channel (a recovery that ran meanwhile may have done it)."""
        while True:
            protocol = await self._link.wait_ready()
            generation = self._link.generation
            if self._generation == generation:
                return
            try:
                inner = await protocol.channel()
            except exceptions.ConnectionClosedError as error:
                if not is_retryable(error) or self._link.fatal is not None:
                    raise
                continue
            if self._generation == generation:  # pragma: no cover - recovery runs before ready
                await inner.close()
                return
            self._inner, self._generation = inner, generation
            self._offset = self._max_tag
            return

    # -- recovery (called by the connection) -------------------------------------------

    async def recover_on(
        self, protocol: AmqpProtocol, generation: int, renamed: dict[str, str]
    ) -> None:
        """Open a plain channel on *protocol* and restore qos, confirm mode and consumers.

        :raises ChannelClosedError: the broker refused part of it (the channel is not recovered)
        """
        if not self.is_open:
            return
        inner = await protocol.channel()
        self._offset = self._max_tag
        if self._qos is not None:
            await inner.basic_qos(*self._qos)
        if self._confirming:
            await inner.confirm_select()
        if not self.is_open:  # closed by the user meanwhile
            await inner.close()
            return
        self._inner, self._generation = inner, generation
        for consumer in list(self._consumers):
            consumer.renamed(renamed)
            await consumer.attach(inner, generation, self._offset)
        logger.debug(
            "channel %s recovered with %d consumer(s)", inner.channel_id, len(self._consumers)
        )

    def end(self, error: BaseException | None) -> None:
        """The channel is over (error: why); its consumers end with it."""
        if error is None:
            self._closed = True
        elif self._error is None and not self._closed:
            self._error = error
        for consumer in self._consumers:
            consumer.end(error)
        self._forget(self)

    def delivered(self, delivery_tag: int) -> None:
        """A delivery with this (offset) tag was handed to the user."""
        if delivery_tag > self._max_tag:
            self._max_tag = delivery_tag

    def forget_consumer(self, consumer: RobustConsumer) -> None:
        """The consumer ended: it is not restarted on reconnect."""
        if consumer in self._consumers:
            self._consumers.remove(consumer)

    def _stale(self, delivery_tag: int, multiple: bool) -> Channel | None:
        """The plain channel to acknowledge *delivery_tag* on, or None when the tag is stale."""
        inner = self._inner
        if inner is None or not inner.is_open or self._generation != self._link.generation:
            return None
        if delivery_tag <= self._offset and not (multiple and delivery_tag == 0):
            return None
        return inner

    async def _settle(
        self,
        delivery_tag: int,
        multiple: bool,
        call: Callable[[Channel, int], Awaitable[None]],
        what: str,
    ) -> None:
        """Acknowledge (or reject) a delivery of this connection; drop one of an earlier one."""
        inner = self._stale(delivery_tag, multiple)
        if inner is None:
            await anyio.lowlevel.checkpoint_if_cancelled()
            if self._error is not None:
                raise self._error
            logger.debug(
                "dropping %s of delivery tag %s from an earlier connection", what, delivery_tag
            )
            return
        tag = delivery_tag - self._offset if delivery_tag else 0
        try:
            await call(inner, tag)
        except exceptions.ConnectionClosedError as error:
            if not is_retryable(error) or self._link.fatal is not None:
                raise
            logger.debug("dropping %s of delivery tag %s: connection lost", what, delivery_tag)
