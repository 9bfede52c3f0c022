"""The basic, confirm and tx classes of AMQP, except consuming.

Publishing and acknowledging are the client's hot paths: each call puts its
frames in the core's outgoing buffer in one synchronous step, wakes the writer,
and yields only now and then (``YIELD_EVERY``). Consuming lives in :mod:`._consuming`;
:class:`~._channel.Channel` inherits these methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

from pamqp import commands

from . import exceptions
from ._channel_core import ChannelCore
from ._confirm_window import ConfirmWindow
from ._core.wire import make_method
from ._messages import Payload, Properties, ReturnEnvelope, encode_payload, encode_properties
from ._requests import UNAVAILABLE, checked_reply
from ._waiter import Waiter


class _PublishWaiter(Waiter):
    """The outcome of one publish in confirm mode."""

    __slots__ = ("delivery_tag", "returned")

    def __init__(self) -> None:
        super().__init__()
        self.delivery_tag = 0
        self.returned: tuple[bytes, ReturnEnvelope, Properties] | None = None

    def sent_as(self, delivery_tag: int) -> None:
        """The publish went out with this delivery tag."""
        self.delivery_tag = delivery_tag

    def note_returned(self, returned: tuple[bytes, ReturnEnvelope, Properties]) -> None:
        """The broker returned the message (its ack follows): the publish fails with it."""
        self.returned = returned


class BasicMethods(ChannelCore):
    """Publishing, publisher confirms, fetching, acknowledgements and transactions."""

    # -- basic class: publishing ------------------------------------------------------------------

    async def publish(
        self,
        payload: Payload,
        exchange_name: str,
        routing_key: str,
        properties: Properties | Mapping[str, Any] | None = None,
        mandatory: bool = False,
        immediate: bool = False,
    ) -> None:
        """Publish a message.

        In confirm mode (after :meth:`confirm_select`) this returns once the
        broker has accepted the message.

        :raises PublishFailedError: the broker nacked it (confirm mode)
        :raises MessageReturnedError: a mandatory message was unroutable (confirm mode)
        :raises ConnectionBlockedError: the broker blocked publishing past ``blocked_timeout``
        """
        await self.port.checkpoint_if_cancelled()
        body = encode_payload(payload)
        properties_payload = encode_properties(properties)
        port = self.port
        if not self._publishable():
            await self._until_publishable()
        if not self._core.confirming(self.channel_id):
            self._queue(
                None, exchange_name, routing_key, mandatory, immediate, properties_payload, body
            )
            port.send_soon()
            await port.yield_sometimes()
            return
        token = _PublishWaiter()
        token.sent_as(
            self._queue(
                token, exchange_name, routing_key, mandatory, immediate, properties_payload, body
            )
        )
        port.flush()
        await token.wait()

    basic_publish = publish

    async def _publish_tracked(
        self,
        token: Any,
        payload: Payload,
        exchange_name: str,
        routing_key: str,
        properties: Properties | Mapping[str, Any] | None,
        mandatory: bool,
    ) -> int:
        """Queue a confirm-mode publish whose outcome *token* receives; return its tag."""
        await self.port.checkpoint_if_cancelled()
        body = encode_payload(payload)
        properties_payload = encode_properties(properties)
        if not self._publishable():
            await self._until_publishable()
        delivery_tag = self._queue(
            token, exchange_name, routing_key, mandatory, False, properties_payload, body
        )
        token.sent_as(delivery_tag)
        # Nobody waits for this publish: the writer sends the window's frames in batches.
        self.port.wake_writer()
        await self.port.yield_sometimes()
        return delivery_tag

    def _publishable(self) -> bool:
        """Whether a publish may go ahead now (checked before awaiting anything)."""
        port = self.port
        return (
            port.blocked_reason is None
            and self._core.pending_bytes <= port.high_water
            and self._flow_active.is_set()
        )

    async def _until_publishable(self) -> None:
        """Wait while the broker blocks publishing, the write buffer is full or flow is off."""
        port = self.port
        if port.blocked_reason is not None or self._core.pending_bytes > port.high_water:
            await port.wait_publishable()
        if not self._flow_active.is_set():
            await self._flow_active.wait()

    def _queue(
        self,
        token: Any,
        exchange_name: str,
        routing_key: str,
        mandatory: bool,
        immediate: bool,
        properties_payload: bytes,
        body: bytes,
    ) -> int:
        """Queue the frames of one publish (synchronously); its confirm sequence number or 0."""
        try:
            delivery_tag = self._core.publish(
                self.channel_id,
                exchange_name,
                routing_key,
                mandatory,
                immediate,
                properties_payload,
                body,
                token,
            )
        except UNAVAILABLE:
            raise self._unavailable() from None
        return delivery_tag or 0

    def confirm_window(self, size: int = 1000) -> ConfirmWindow:
        """A window of publishes with at most *size* confirms outstanding.

        ``async with chan.confirm_window(size) as window:`` puts the channel in
        confirm mode if it is not yet; see :class:`ConfirmWindow`.
        """
        return ConfirmWindow(size, self._publish_tracked, self._ensure_confirming)

    async def _ensure_confirming(self) -> None:
        if not self._core.confirming(self.channel_id):
            await self.confirm_select()

    @overload
    async def confirm_select(self, *, no_wait: Literal[False] = False) -> bool: ...

    @overload
    async def confirm_select(self, *, no_wait: bool = False) -> bool | None: ...

    async def confirm_select(self, *, no_wait: bool = False) -> bool | None:
        """Put the channel in confirm mode: from now on ``publish`` waits for the broker's ack."""
        reply = await self._requests.request(commands.Confirm.Select(nowait=no_wait), no_wait)
        return None if reply is None else True

    async def basic_qos(
        self, prefetch_size: int = 0, prefetch_count: int = 0, connection_global: bool = False
    ) -> bool:
        """Limit unacknowledged deliveries per consumer (per channel: ``connection_global``)."""
        await self._requests.call(
            commands.Basic.Qos(prefetch_size, prefetch_count, connection_global)
        )
        return True

    async def basic_get(self, queue_name: str = "", no_ack: bool = False) -> dict[str, Any]:
        """Fetch one message.

        :raises EmptyQueueError: when the queue has no ready message
        """
        reply = await self._requests.call(
            make_method(commands.Basic.Get, queue=queue_name, no_ack=no_ack), context=no_ack
        )
        if isinstance(reply.method, commands.Basic.GetEmpty):
            raise exceptions.EmptyQueueError(f"queue {queue_name!r} is empty")
        method = checked_reply(reply, commands.Basic.GetOk)
        self._core.delivered(self.channel_id, method.delivery_tag or 0, no_ack)
        return {
            "routing_key": method.routing_key,
            "redelivered": method.redelivered,
            "delivery_tag": method.delivery_tag,
            "exchange_name": method.exchange,
            "message_count": method.message_count,
            "message": reply.body,
            "properties": Properties(*reply.properties),
        }

    # -- basic class: acknowledgements ---------------------------------------------------------

    async def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        """Acknowledge a delivery (``multiple``: and every earlier one)."""
        await self.port.checkpoint_if_cancelled()
        try:
            self._core.ack(self.channel_id, delivery_tag, multiple)
        except UNAVAILABLE:
            raise self._unavailable() from None
        self.port.wake_writer()  # a consumer about to wait sends its acks (Consumer.__anext__)
        await self.port.yield_sometimes()

    basic_client_ack = basic_ack

    async def basic_nack(
        self, delivery_tag: int, multiple: bool = False, requeue: bool = True
    ) -> None:
        """Reject one or (``multiple``) several deliveries, requeueing them by default."""
        await self._requests.send(commands.Basic.Nack(delivery_tag, multiple, requeue))

    basic_client_nack = basic_nack

    async def basic_reject(self, delivery_tag: int, requeue: bool = False) -> None:
        """Reject a delivery; it is dropped (or dead-lettered) unless ``requeue``."""
        await self._requests.send(commands.Basic.Reject(delivery_tag, requeue))

    async def basic_recover(self, requeue: bool = True) -> bool:
        """Redeliver every unacknowledged message of this channel."""
        await self._requests.call(commands.Basic.Recover(requeue))
        return True

    async def basic_recover_async(self, requeue: bool = True) -> None:
        """Like :meth:`basic_recover` without waiting for the broker (deprecated method)."""
        await self._requests.send(commands.Basic.RecoverAsync(requeue))

    # -- tx class -------------------------------------------------------------------------

    async def tx_select(self) -> bool:
        """Make the channel transactional."""
        await self._requests.call(commands.Tx.Select())
        return True

    async def tx_commit(self) -> bool:
        """Commit the publishes and acks made since the last commit or rollback."""
        await self._requests.call(commands.Tx.Commit())
        return True

    async def tx_rollback(self) -> bool:
        """Discard the publishes and acks made since the last commit or rollback."""
        await self._requests.call(commands.Tx.Rollback())
        return True
