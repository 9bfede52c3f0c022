"""What a channel may use of its connection (:class:`ChannelPort`), and the connection's side.

A channel talks to its connection only through this port: it hands frames to the
sans-IO core (which also allocates and frees channel ids), wakes the writer, starts
a task through the task starter the connection passed in, yields now and then, waits
while publishing is blocked, and reads the connection's failure. :class:`ConnectionPort`
is the one implementation; the connection and its tasks own it and change its state
through its methods only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol

import anyio
import anyio.lowlevel
import sniffio

from . import exceptions
from ._core import events as ev
from ._core.client import ClientConnection, ConnectionState
from ._core.replies import PendingReply
from ._hints import describe_unusable
from ._waiter import Waiter

#: Starts a task in a task group the connection's lifetime owns.
TaskStarter = Callable[[Callable[[], Awaitable[Any]]], None]

#: Calls that complete without waiting (publish, ack, a buffered delivery) let other
#: tasks run every this many calls: often enough to be fair, rarely enough that the
#: writer sends many frames per system call.
YIELD_EVERY = 32

#: A call that does not wait is sent at once from its task unless another was, this
#: many seconds before: then the writer sends it, with those that follow.
COALESCE = 50e-6


@dataclass(slots=True, frozen=True)
class ChannelEndpoint:
    """What the connection holds of a channel: how it hands it events and ends it."""

    channel_id: int
    #: act on one of the reader's events for this channel (synchronous, never awaits)
    handle_event: Callable[[ev.Event], None]
    #: the hot path of :attr:`handle_event`: buffer a delivery for its consumer
    deliver: Callable[[ev.MessageDelivered], None]
    #: the connection ended: ``(error, clean)``
    connection_ended: Callable[[BaseException, bool], None]
    #: send channel.close without waiting (the connection is shutting down)
    request_close: Callable[[], None]
    #: the caller opening the channel gave up: drop the open, or close what it opened
    give_up: Callable[[PendingReply, Waiter], None]


class ChannelPort(Protocol):
    """The connection as a channel sees it."""

    @property
    def core(self) -> ClientConnection:
        """The sans-IO connection: frames in and out, channel ids, reply slots."""

    @property
    def failure(self) -> BaseException | None:
        """Why the connection ended, once it has."""

    @property
    def blocked_reason(self) -> str | None:
        """Why the broker blocks publishing, while it does."""

    @property
    def high_water(self) -> int:
        """Publishes wait for the writer once this many bytes are buffered."""

    @property
    def is_open(self) -> bool:
        """True while the connection can be used."""

    def wake_writer(self) -> None:
        """Let the writer send what the core has buffered."""

    async def checkpoint_if_cancelled(self) -> None:
        """Raise if the caller's scope is cancelled (without letting other tasks run)."""

    def flush(self) -> None:
        """Send what the core has buffered now, if it can; else let the writer send it."""

    def send_soon(self) -> None:
        """After a call that does not wait (a publish): send now unless another just was."""

    def start_task(self, loop: Callable[[], Awaitable[Any]]) -> None:
        """Run *loop* as one of the connection's tasks (an error in it is fatal)."""

    async def yield_sometimes(self) -> None:
        """After work that already happened: let other tasks run now and then."""

    async def checkpoint_sometimes(self) -> None:
        """Before work that has not happened yet: honour cancellation, yield now and then."""

    async def wait_publishable(self) -> None:
        """Wait while the broker blocks publishing or the write buffer is full."""


class ConnectionPort:
    """The state a connection shares with its channels and tasks, changed only through here."""

    __slots__ = (
        "_drained",
        "_last_sent_now",
        "_send_now",
        "_send_wanted",
        "_start_task",
        "_unblocked",
        "_yield_budget",
        "blocked_reason",
        "blocked_timeout",
        "checkpoint_if_cancelled",
        "core",
        "failure",
        "high_water",
    )

    def __init__(
        self,
        core: ClientConnection,
        start_task: TaskStarter,
        *,
        high_water: int,
        blocked_timeout: float | None,
    ) -> None:
        self.core = core
        self._start_task = start_task
        self.high_water = high_water
        self.blocked_timeout = blocked_timeout
        self.failure: BaseException | None = None
        self.blocked_reason: str | None = None
        self._send_wanted = anyio.Event()
        self._drained = anyio.Event()
        self._unblocked = anyio.Event()
        self._unblocked.set()
        self._yield_budget = YIELD_EVERY
        self._send_now: Callable[[], bool] | None = None
        self._last_sent_now = 0.0
        #: the running backend's own check, once :meth:`bind_backend` has run
        self.checkpoint_if_cancelled: Callable[[], Awaitable[None]] = (
            anyio.lowlevel.checkpoint_if_cancelled
        )

    # -- the channel's side ------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True while the connection can be used."""
        return self.core.state is ConnectionState.OPEN and self.failure is None

    def wake_writer(self) -> None:
        """Let the writer send what the core has buffered."""
        self._send_wanted.set()

    def flush(self) -> None:
        """Send what the core has buffered now, if it can; else let the writer send it.

        For a caller about to wait for the broker's answer: sending from its own task
        saves waking the writer (a task switch, often a turn of the event loop). Calls
        that do not wait use :meth:`send_soon` (publish) or :meth:`wake_writer` (ack),
        so that in a loop the writer sends many frames in one system call.
        """
        if not self.core.has_data_to_send:
            return
        send_now = self._send_now
        if send_now is None or not send_now():
            self._send_wanted.set()

    def send_soon(self) -> None:
        """After a call that does not wait (a publish): send now, or let the writer send.

        A lone call (a request published before waiting for its reply) goes out at
        once, from the caller's task: the writer need not wake. Calls in quick
        succession (a loop publishing) are left to the writer, which sends them
        together: once the writer has been woken, or within :data:`COALESCE` seconds
        after the last call that was sent at once.
        """
        send_now = self._send_now
        if send_now is not None and not self._send_wanted.is_set():
            now = perf_counter()
            if now - self._last_sent_now >= COALESCE:
                self._last_sent_now = now
                if send_now():
                    return
        self._send_wanted.set()

    def start_task(self, loop: Callable[[], Awaitable[Any]]) -> None:
        """Run *loop* as one of the connection's tasks (an error in it is fatal)."""
        self._start_task(loop)

    async def yield_sometimes(self) -> None:
        """After work that already happened: let other tasks run now and then, uncancellably."""
        self._yield_budget -= 1
        if self._yield_budget <= 0:
            self._yield_budget = YIELD_EVERY
            await anyio.lowlevel.cancel_shielded_checkpoint()

    async def checkpoint_sometimes(self) -> None:
        """Before work that has not happened yet: honour cancellation, yield now and then."""
        self._yield_budget -= 1
        if self._yield_budget <= 0:
            self._yield_budget = YIELD_EVERY
            await anyio.lowlevel.checkpoint()
        else:
            await anyio.lowlevel.checkpoint_if_cancelled()

    def check_usable(self) -> None:
        """Raise why the connection cannot be used, if it cannot."""
        if self.failure is not None:
            raise self.failure
        if self.core.state is not ConnectionState.OPEN:
            raise exceptions.ConnectionClosedError(0, describe_unusable(self.core.state))

    async def wait_publishable(self) -> None:
        """Wait while the broker blocks publishing or the write buffer is full."""
        pending_bytes = self.core.pending_bytes
        if self.blocked_reason is not None:
            if self.blocked_timeout is None:
                await self._unblocked.wait()
            else:
                with anyio.move_on_after(self.blocked_timeout) as scope:
                    await self._unblocked.wait()
                if scope.cancelled_caught:
                    raise exceptions.ConnectionBlockedError(
                        self.blocked_reason or "blocked", self.blocked_timeout
                    )
            self.check_usable()
        if pending_bytes > self.high_water:
            await self.wait_drained()
            self.check_usable()

    # -- the connection's side ---------------------------------------------------------

    def bind_backend(self) -> None:
        """Use the running event loop's own cancellation check (called inside it).

        On trio that is ``trio.lowlevel.checkpoint_if_cancelled``, which anyio's
        check calls after finding the backend, on every call; on asyncio anyio's
        check is the only one that knows anyio's cancel scopes.
        """
        if sniffio.current_async_library() == "trio":
            import trio.lowlevel  # trio is optional: imported only when it runs

            self.checkpoint_if_cancelled = trio.lowlevel.checkpoint_if_cancelled

    def attach_sender(self, send_now: Callable[[], bool]) -> None:
        """The writer's synchronous send (:meth:`~._connection_io.ConnectionIO.send_now`)."""
        self._send_now = send_now

    def set_blocked_timeout(self, timeout: float | None) -> None:
        """How long a publish waits while the broker blocks publishing (None: forever)."""
        self.blocked_timeout = timeout

    async def wait_for_work(self) -> None:
        """The writer: wait until someone wakes it."""
        event = self._send_wanted = anyio.Event()
        await event.wait()

    def mark_drained(self) -> None:
        """The writer has sent everything the core buffered."""
        self._drained.set()

    async def wait_drained(self) -> None:
        """Wake the writer and wait until it has sent everything buffered so far."""
        drained = self._drained
        if drained.is_set():
            self._drained = drained = anyio.Event()
        self._send_wanted.set()
        await drained.wait()

    def fail(self, error: BaseException) -> bool:
        """Record why the connection ended and release every waiter; False if already ended."""
        if self.failure is not None:
            return False
        self.failure = error
        return True

    def release_waiters(self) -> None:
        """Wake the writer and every blocked or draining publisher (the connection ended)."""
        self._unblocked.set()
        self._send_wanted.set()
        self._drained.set()

    def block(self, reason: str) -> None:
        """The broker blocked publishing."""
        self.blocked_reason = reason
        if self._unblocked.is_set():
            self._unblocked = anyio.Event()

    def unblock(self) -> None:
        """The broker unblocked publishing."""
        self.blocked_reason = None
        self._unblocked.set()
