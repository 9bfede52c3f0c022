"""The connection's tasks: started in the task group its lifetime owns, stopped together.

Every task runs under :meth:`ConnectionTasks.guard`: an error in it is handed to the
connection (which records it as fatal), never raised into the task group. Tasks that
start after the connection opened (consumer callbacks) are not spawned into a stored
task group: :meth:`start_later` queues them, and :meth:`serve_later`, itself one of the
connection's tasks, starts them in a task group it owns. Most connections never start
one, so :meth:`serve_later_on_demand` starts :meth:`serve_later` only when the first
one is queued (a task fewer to start and stop per connection).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

Loop = Callable[[], Awaitable[Any]]


class ConnectionTasks:
    """The cancel scopes of a connection's tasks, and the queue of tasks to start later."""

    def __init__(self, on_error: Callable[[Exception], None]) -> None:
        self._on_error = on_error
        self._scopes: set[anyio.CancelScope] = set()
        #: the queue of :meth:`start_later`, made when first used (most connections never)
        self._later: tuple[MemoryObjectSendStream[Loop], MemoryObjectReceiveStream[Loop]] | None
        self._later = None
        self._stopped = False
        #: where :meth:`serve_later` starts on demand, until it has started or the tasks stop
        self._serve_later_in: anyio.abc.TaskGroup | None = None

    def start(self, task_group: anyio.abc.TaskGroup, loop: Loop, *, shield: bool = False) -> None:
        """Start one of the connection's tasks; *shield*: only the connection stops it."""
        scope = anyio.CancelScope(shield=shield)
        self._scopes.add(scope)  # before it runs, so stopping the tasks always reaches it
        task_group.start_soon(self.guard, loop, scope)

    def serve_later_on_demand(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start :meth:`serve_later` in *task_group* when :meth:`start_later` is first called.

        Until then (and unless :meth:`stop` comes first) the task group is kept for that
        one start only; it must outlive :meth:`stop`.
        """
        self._serve_later_in = task_group

    def _later_queue(
        self,
    ) -> tuple[MemoryObjectSendStream[Loop], MemoryObjectReceiveStream[Loop]]:
        if self._later is None:
            self._later = anyio.create_memory_object_stream[Loop](math.inf)
        return self._later

    def start_later(self, loop: Loop) -> None:
        """Queue *loop* for :meth:`serve_later` to start (the channels' task starter).

        Once the tasks stopped, nothing starts any more: *loop* is dropped.
        """
        if self._stopped:
            return
        self._later_queue()[0].send_nowait(loop)
        task_group = self._serve_later_in
        if task_group is not None:
            self._serve_later_in = None
            self.start(task_group, self.serve_later)

    async def serve_later(self) -> None:
        """Start what :meth:`start_later` queues, in a task group this task owns."""
        async with anyio.create_task_group() as task_group:
            async for loop in self._later_queue()[1]:
                task_group.start_soon(self.guard, loop)

    def stop(self) -> None:
        """Cancel every task of the connection (and start none on demand from now on)."""
        self._serve_later_in = None
        self._stopped = True
        for scope in list(self._scopes):
            scope.cancel()
        if self._later is not None:  # what was queued and not started never will be
            for stream in self._later:
                stream.close()

    async def guard(self, loop: Loop, scope: anyio.CancelScope | None = None) -> None:
        """Run one of the connection's tasks; an error in it is fatal, never swallowed."""
        scope = scope or anyio.CancelScope()
        with scope:
            self._scopes.add(scope)
            try:
                await loop()
            except Exception as error:
                self._on_error(error)
            finally:
                self._scopes.discard(scope)


@asynccontextmanager
async def single_errors() -> AsyncIterator[None]:
    """Let a lone exception out of a task group as itself, not as an ExceptionGroup.

    The connection's own tasks never raise into their group (they record a fatal
    error instead), so a group holding one exception holds the user's own.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) != 1:
            raise
        error = group.exceptions[0]
        raise error from error.__cause__
