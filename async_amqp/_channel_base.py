"""The plumbing every channel method stands on, and the channel's share of the reader's work.

Requests go through the core synchronously (encode + register the reply
slot in one step), then the caller awaits its :class:`Waiter`. A caller
cancelled while waiting *abandons* the slot; the late reply is consumed and,
where it changed broker state on our behalf (a consumer started, a message
fetched, a channel opened), undone. The reader calls the ``_on_*`` methods
synchronously; they wake waiters and fill buffers and never await. The AMQP
methods users call are built on top of this in :mod:`._declare`,
:mod:`._basic` and :mod:`._channel`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

import anyio
import anyio.lowlevel
from pamqp import commands
from pamqp.base import Frame

from . import exceptions
from ._consumer import Consumer
from ._core import events as ev
from ._core.client import ConnectionUnavailable
from ._core.client_channel import ChannelState, ChannelUnavailable
from ._core.replies import PendingReply
from ._messages import Envelope, Properties, ReturnEnvelope
from ._waiter import Waiter

if TYPE_CHECKING:
    from ._connection import AmqpProtocol

logger = logging.getLogger("async_amqp")

Arguments = Mapping[str, Any] | None
Returned = tuple[bytes, ReturnEnvelope, Properties]
_R = TypeVar("_R", bound=Frame)


def checked_reply(event: ev.ReplyArrived, reply_class: type[_R]) -> _R:
    """Return the reply method, checked to be the kind the request expects."""
    method = event.method
    if not isinstance(method, reply_class):
        raise exceptions.SynchronizationError(
            f"expected {reply_class.name}, the broker answered {method.name}"
        )
    return method


class _ChannelBase:
    """A channel's state, its request plumbing, and what the reader tells it."""

    def __init__(self, protocol: AmqpProtocol, channel_id: int, **_: Any) -> None:
        self.protocol = protocol
        self.channel_id = channel_id
        self._core = protocol._core
        self._consumers: dict[str, Consumer] = {}
        #: consumer tags we stopped listening to, with their no_ack flag
        self._orphans: dict[str, bool] = {}
        self._returns: deque[Returned] = deque()
        self._returns_wakeup: anyio.Event | None = None
        self._error: BaseException | None = None
        self._closed = False
        self._flow_active = anyio.Event()
        self._flow_active.set()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<Channel {self.channel_id} {state}>"

    @property
    def is_open(self) -> bool:
        """True until the channel is closing or closed (by us, the broker, or the connection)."""
        return not self._closed and self._core.channel_state(self.channel_id) is ChannelState.OPEN

    @property
    def publisher_confirms(self) -> bool:
        """True once confirm mode is on: ``publish`` then waits for the broker's ack."""
        return self._core.confirming(self.channel_id)

    @property
    def close_reason(self) -> BaseException | None:
        """Why the channel ended, when the broker or a lost connection ended it."""
        return self._error

    # -- plumbing --------------------------------------------------------------------

    def _unavailable(self) -> BaseException:
        if self._error is not None:
            return self._error
        if self.protocol._fatal is not None:
            return self.protocol._fatal
        return exceptions.ChannelClosedError(
            0,
            f"channel {self.channel_id} is closed: it was used after its "
            "'async with conn.new_channel()' block ended, or after close()",
        )

    async def _call(self, method: Frame, context: Any = None) -> ev.ReplyArrived:
        """Send a synchronous request and wait for its reply."""
        await anyio.lowlevel.checkpoint_if_cancelled()  # cancelled before sending: send nothing
        waiter = Waiter(context)
        try:
            slot = self._core.call(self.channel_id, method, waiter)
        except (ChannelUnavailable, ConnectionUnavailable):
            raise self._unavailable() from None
        self.protocol._wake_writer()
        try:
            reply: ev.ReplyArrived = await waiter.wait()
        except BaseException:
            self._core.abandon(self.channel_id, slot)
            self.protocol._wake_writer()
            raise
        return reply

    async def _send(self, method: Frame) -> None:
        """Send a method that gets no reply."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        try:
            self._core.send(self.channel_id, method)
        except (ChannelUnavailable, ConnectionUnavailable):
            raise self._unavailable() from None
        self.protocol._wake_writer()
        await self.protocol._yield_sometimes()

    async def _request(self, method: Frame, no_wait: bool) -> ev.ReplyArrived | None:
        if no_wait:
            await self._send(method)
            return None
        return await self._call(method)

    # -- called by the connection's reader (synchronous) ----------------------------------

    def _on_reply(self, slot: PendingReply, event: ev.ReplyArrived) -> None:
        waiter = slot.waiter
        method = event.method
        if isinstance(method, commands.Basic.ConsumeOk) and waiter is not None:
            consumer: Consumer = waiter.context
            tag = method.consumer_tag or ""
            if slot.abandoned:
                self._orphan(tag, consumer.no_ack)
                self._core.send(self.channel_id, commands.Basic.Cancel(tag, nowait=True))
                return
            consumer.consumer_tag = tag
            self._consumers[tag] = consumer
        elif isinstance(method, commands.Basic.CancelOk):
            tag = method.consumer_tag or ""
            consumer_gone = self._consumers.pop(tag, None)
            if consumer_gone is not None:
                self._orphan(tag, consumer_gone.no_ack)
                consumer_gone._finish()
        if slot.abandoned:
            self._undo_abandoned(event, waiter.context if waiter is not None else None)
            return
        if waiter is not None:
            waiter.set_result(event)

    def _orphan(self, consumer_tag: str, no_ack: bool) -> None:
        self._orphans[consumer_tag] = no_ack

    def _undo_abandoned(self, event: ev.ReplyArrived, context: Any) -> None:
        method = event.method
        if isinstance(method, commands.Channel.OpenOk):
            self._request_close()
        elif isinstance(method, commands.Basic.GetOk):
            if context:  # no_ack: the broker already forgot the message
                logger.warning(
                    "a cancelled basic_get(no_ack=True) on channel %s lost a message from %r",
                    self.channel_id,
                    method.routing_key,
                )
            else:
                self._core.send(
                    self.channel_id, commands.Basic.Reject(method.delivery_tag, requeue=True)
                )

    def _on_delivered(self, event: ev.MessageDelivered) -> None:
        method = event.method
        tag = method.consumer_tag or ""
        consumer = self._consumers.get(tag)
        if consumer is None:
            no_ack = self._orphans.get(tag, True)
            if not no_ack:  # nobody listens any more: give it back to the queue now
                self._core.send(
                    self.channel_id, commands.Basic.Reject(method.delivery_tag, requeue=True)
                )
            return
        consumer._push(
            (
                event.body,
                Envelope(
                    tag,
                    method.delivery_tag or 0,
                    method.exchange or "",
                    method.routing_key or "",
                    bool(method.redelivered),
                ),
                Properties(*event.properties),
            )
        )

    def _on_returned(self, event: ev.MessageReturned) -> None:
        method = event.method
        envelope = ReturnEnvelope(
            method.reply_code or 0,
            method.reply_text or "",
            method.exchange or "",
            method.routing_key or "",
        )
        item = (event.body, envelope, Properties(*event.properties))
        token = event.token
        if token is not None:
            token.returned = item
        self._returns.append(item)
        wakeup = self._returns_wakeup
        if wakeup is not None:
            self._returns_wakeup = None
            wakeup.set()

    def _on_settled(self, event: ev.PublishesSettled) -> None:
        for token, _returned in event.settled:
            if token is None:
                continue
            if not event.ack:
                token.set_error(exceptions.PublishFailedError(token.delivery_tag))
            elif token.returned is not None:
                body, envelope, properties = token.returned
                token.set_error(
                    exceptions.MessageReturnedError(token.delivery_tag, envelope, body, properties)
                )
            else:
                token.set_result(None)

    def _on_consumer_cancelled(self, consumer_tag: str) -> None:
        consumer = self._consumers.pop(consumer_tag, None)
        if consumer is not None:
            consumer.cancelled_by_server = True
            self._orphan(consumer_tag, consumer.no_ack)
            consumer._finish()

    def _on_flow(self, active: bool) -> None:
        if active:
            self._flow_active.set()
        elif self._flow_active.is_set():
            self._flow_active = anyio.Event()

    def _on_closed(self, event: ev.ChannelClosed) -> None:
        if event.by_server:
            error: BaseException = exceptions.channel_error(
                event.reply_code, event.reply_text, event.class_id, event.method_id
            )
            self._error = error
        else:
            error = exceptions.ChannelClosedError(0, f"channel {self.channel_id} was closed")
        for slot in event.pending:
            if slot.waiter is None:
                continue
            if slot.request is commands.Channel.Close:
                slot.waiter.set_result(None)
            else:
                slot.waiter.set_error(error)
        for token in event.unconfirmed:
            if token is not None:
                token.set_error(error)
        self._ended(error, clean=not event.by_server)

    def _ended(self, error: BaseException, *, clean: bool) -> None:
        """The channel is gone: end consumers and the returns iterator."""
        self._closed = True
        if not clean and self._error is None:
            self._error = error
        for consumer in self._consumers.values():
            consumer._finish(None if clean else error)
        self._consumers.clear()
        self._flow_active.set()
        wakeup = self._returns_wakeup
        if wakeup is not None:
            self._returns_wakeup = None
            wakeup.set()

    def _request_close(self) -> None:
        """Send channel.close without waiting (the connection is shutting down)."""
        try:
            self._core.call(
                self.channel_id, commands.Channel.Close(200, "Normal shutdown", 0, 0), None
            )
        except (ChannelUnavailable, ConnectionUnavailable):
            return
        self.protocol._wake_writer()

    # -- returned messages ----------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Returned:
        """Return the next message the broker returned to this channel.

        Ends when the channel is closed normally; raises the reason when the
        broker or a lost connection ended it.
        """
        returns = self._returns
        if returns:
            await self.protocol._checkpoint_sometimes()
        while not returns:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            wakeup = self._returns_wakeup = anyio.Event()
            await wakeup.wait()
        return returns.popleft()

    # -- channel class ----------------------------------------------------------------------

    async def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Close the channel (a no-op when it is already closed or closing)."""
        if not self.is_open:
            await anyio.lowlevel.checkpoint()
            return
        try:
            await self._call(commands.Channel.Close(reply_code, reply_text, 0, 0))
        except (exceptions.ChannelClosedError, exceptions.ConnectionClosedError):
            if not self._closed:
                raise

    async def flow(self, active: bool) -> dict[str, bool]:
        """Ask the broker to pause or resume deliveries (RabbitMQ refuses ``active=False``)."""
        reply = await self._call(commands.Channel.Flow(active))
        return {"active": bool(checked_reply(reply, commands.Channel.FlowOk).active)}
