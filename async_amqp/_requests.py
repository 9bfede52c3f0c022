"""A channel's request plumbing: send a method, await its reply, give up cleanly.

Requests go through the core synchronously (encode + register the reply slot in
one step), then the caller awaits its :class:`Waiter`. A caller cancelled while
waiting *abandons* the slot: a request still queued is dropped ("nothing sent");
a reply that arrives (or arrived) for nobody is handed to the channel's *undo*
callback, which reverses what it changed on the broker for us.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pamqp import commands
from pamqp.base import Frame

from . import exceptions
from ._core import events as ev
from ._core.client import ConnectionUnavailable
from ._core.client_channel import ChannelUnavailable
from ._core.replies import PendingReply
from ._port import ChannelPort
from ._waiter import Waiter

Arguments = Mapping[str, Any] | None
_R = TypeVar("_R", bound=Frame)

#: The core refuses a frame: the channel or the connection is no longer usable.
UNAVAILABLE = (ChannelUnavailable, ConnectionUnavailable)


def checked_reply(event: ev.ReplyArrived, reply_class: type[_R]) -> _R:
    """Return the reply method, checked to be the kind the request expects."""
    method = event.method
    if not isinstance(method, reply_class):
        raise exceptions.SynchronizationError(
            f"expected {reply_class.name}, the broker answered {method.name}"
        )
    return method


class ChannelRequests:
    """Synchronous requests and one-way methods on one channel."""

    __slots__ = ("_unavailable", "_undo", "channel_id", "core", "port")

    def __init__(
        self,
        port: ChannelPort,
        channel_id: int,
        *,
        unavailable: Callable[[], BaseException],
        undo: Callable[[ev.ReplyArrived, Any], None],
    ) -> None:
        self.port = port
        self.core = port.core
        self.channel_id = channel_id
        self._unavailable = unavailable
        self._undo = undo

    def unavailable(self) -> BaseException:
        """Why the channel cannot be used (to raise)."""
        return self._unavailable()

    async def call(self, method: Frame, context: Any = None) -> ev.ReplyArrived:
        """Send a synchronous request and wait for its reply."""
        await self.port.checkpoint_if_cancelled()  # cancelled before sending: send nothing
        waiter = Waiter(context)
        try:
            slot = self.core.call(self.channel_id, method, waiter)
        except UNAVAILABLE:
            raise self._unavailable() from None
        self.port.flush()
        try:
            reply: ev.ReplyArrived = await waiter.wait()
        except BaseException:
            self.give_up(slot, waiter)
            raise
        return reply

    def give_up(self, slot: PendingReply, waiter: Waiter) -> None:
        """The caller of *slot* stopped waiting (cancelled): drop the request, or undo its reply.

        The reply may already be in *waiter*: the reader handed it over, but the caller
        was cancelled before it ran again and will never see it. That reply is undone
        exactly like one that arrives after the caller gave up.
        """
        reply = waiter.delivered
        if isinstance(reply, ev.ReplyArrived):
            self._undo(reply, waiter.context)
            return
        self.core.abandon(self.channel_id, slot)
        self.port.wake_writer()

    async def send(self, method: Frame) -> None:
        """Send a method that gets no reply."""
        await self.port.checkpoint_if_cancelled()
        try:
            self.core.send(self.channel_id, method)
        except UNAVAILABLE:
            raise self._unavailable() from None
        self.port.wake_writer()
        await self.port.yield_sometimes()

    async def request(self, method: Frame, no_wait: bool) -> ev.ReplyArrived | None:
        """Send *method*; wait for its reply unless *no_wait*."""
        if no_wait:
            await self.send(method)
            return None
        return await self.call(method)

    def reject_all(self, delivery_tags: list[int]) -> None:
        """Requeue deliveries nobody will process (stops quietly once the channel is gone)."""
        for delivery_tag in delivery_tags:
            try:
                self.core.send(self.channel_id, commands.Basic.Reject(delivery_tag, requeue=True))
            except UNAVAILABLE:
                return
        self.port.wake_writer()

    def request_close(self) -> None:
        """Send channel.close without waiting (the connection is shutting down)."""
        try:
            self.core.call(
                self.channel_id, commands.Channel.Close(200, "Normal shutdown", 0, 0), None
            )
        except UNAVAILABLE:
            return
        self.port.wake_writer()
