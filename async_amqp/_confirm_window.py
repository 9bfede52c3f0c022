"""A window of publisher confirms: many publishes in flight from one task.

``async with chan.confirm_window(size=1000) as window`` lets one task publish
without waiting for each confirm: :meth:`ConfirmWindow.publish` returns once
the message is queued for sending, and waits only while ``size`` publishes
of the window are unconfirmed. Failures (a nack, a returned mandatory
message, the channel's or connection's end) are raised from the next
``publish`` or from leaving the block, which waits for every outstanding
confirm.

Per message the window keeps one small slotted record (the token the
channel's confirm bookkeeping settles); there is no task and no event per
message. The reader settles tokens synchronously; the publishing task sleeps
on one event only while the window is full or while the block's exit waits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

import anyio

from ._messages import Payload, Properties, ReturnEnvelope


class _WindowEntry:
    """One unconfirmed publish of a window: the token the channel settles."""

    __slots__ = ("delivery_tag", "returned", "window")

    def __init__(self, window: ConfirmWindow) -> None:
        self.window = window
        self.delivery_tag = 0
        #: the mandatory message, when it came back before its ack
        self.returned: tuple[bytes, ReturnEnvelope, Properties] | None = None

    def sent_as(self, delivery_tag: int) -> None:
        """The publish is queued with this delivery tag: the window counts it from now on.

        Called synchronously right after the channel registered the token, before
        anything can settle it, so :attr:`ConfirmWindow.outstanding` never dips below 0.
        """
        self.delivery_tag = delivery_tag
        self.window.counted()

    def note_returned(self, returned: tuple[bytes, ReturnEnvelope, Properties]) -> None:
        """The broker returned the message (its ack follows): the publish fails with it."""
        self.returned = returned

    def set_result(self, value: Any) -> None:
        """The broker acked the publish."""
        self.window.settled(None)

    def set_error(self, error: BaseException) -> None:
        """The publish failed: nacked, returned, or its channel or connection ended."""
        self.window.settled(error)


class ConfirmWindow:
    """Publishes on a confirm-mode channel with at most ``size`` confirms outstanding.

    Made by :meth:`Channel.confirm_window`; use it as an async context manager.
    """

    __slots__ = (
        "_closed",
        "_outstanding",
        "_publish",
        "_reported",
        "_start",
        "_wakeup",
        "failures",
        "size",
    )

    def __init__(
        self,
        size: int,
        publish: Callable[..., Awaitable[int]],
        start: Callable[[], Awaitable[None]],
    ) -> None:
        if size < 1:
            raise ValueError(f"a confirm window needs a size of at least 1, not {size}")
        #: how many publishes may await their confirm at once
        self.size = size
        #: every failure seen so far, oldest first (each is also raised once)
        self.failures: list[BaseException] = []
        self._reported = 0
        self._outstanding = 0
        self._wakeup: anyio.Event | None = None
        self._publish = publish
        self._start = start
        self._closed = False

    @property
    def outstanding(self) -> int:
        """How many publishes of this window await their confirm."""
        return self._outstanding

    async def __aenter__(self) -> ConfirmWindow:
        await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closed = True
        if exc_type is not None and issubclass(exc_type, anyio.get_cancelled_exc_class()):
            return  # a cancelled block does not wait; the confirms are still tracked
        await self.wait_for_confirms(raise_failures=exc is None)

    async def publish(
        self,
        payload: Payload,
        exchange_name: str,
        routing_key: str,
        properties: Properties | Mapping[str, Any] | None = None,
        mandatory: bool = False,
    ) -> int:
        """Publish a message; wait only while ``size`` confirms are outstanding.

        Returns the message's delivery tag (its sequence number on the channel),
        which the :exc:`PublishFailedError` of a failed message carries.

        :raises PublishFailedError: an earlier publish of the window was nacked
            (this call's message is then not published)
        :raises MessageReturnedError: an earlier mandatory publish came back
        """
        if self._closed:
            raise RuntimeError("this confirm window's block has ended")
        self._raise_failure()
        while self._outstanding >= self.size:
            await self._sleep()
            self._raise_failure()
        return await self._publish(
            _WindowEntry(self), payload, exchange_name, routing_key, properties, mandatory
        )

    async def wait_for_confirms(self, *, raise_failures: bool = True) -> None:
        """Wait until every publish of the window is confirmed (or failed).

        :raises PublishFailedError: the oldest failure not raised yet (the
            others stay in :attr:`failures`)
        """
        while self._outstanding:
            await self._sleep()
        if raise_failures:
            self._raise_failure()

    def counted(self) -> None:
        """One more publish of the window is queued (called by its token)."""
        self._outstanding += 1

    def settled(self, error: BaseException | None) -> None:
        """One publish of the window was settled (called by its token, from the reader)."""
        self._outstanding -= 1
        if error is not None and not (self.failures and self.failures[-1] is error):
            self.failures.append(error)  # a channel's end fails every token with one error
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            wakeup.set()

    def _raise_failure(self) -> None:
        if self._reported < len(self.failures):
            self._reported += 1
            raise self.failures[self._reported - 1]

    async def _sleep(self) -> None:
        wakeup = self._wakeup
        if wakeup is None:
            wakeup = self._wakeup = anyio.Event()
        await wakeup.wait()
