"""A one-shot result slot that one task awaits and the reader fills in.

anyio has no future type; this is the smallest one that suits us: the
reader (synchronous code) calls :meth:`set_result`/:meth:`set_error`, and the
caller awaits :meth:`wait`. Setting twice keeps the first outcome.

A caller can be cancelled after the reader resolved its waiter but before it ran
again (trio has already rescheduled the parked task with ``Cancelled``; asyncio has
cancelled the future it waited on): ``wait`` then raises ``Cancelled`` although the
value is there. The caller's cleanup reads :attr:`delivered` to undo what the value
stood for.
"""

from __future__ import annotations

from typing import Any

import anyio


class Waiter:
    """Holds the outcome of one request."""

    __slots__ = ("_error", "_event", "_value", "context", "done")

    def __init__(self, context: Any = None) -> None:
        self._event = anyio.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        self.done = False
        #: what the request was about, for whoever handles a late (abandoned) reply
        self.context = context

    def set_result(self, value: Any) -> None:
        """Resolve with *value* (ignored when already resolved)."""
        if not self.done:
            self.done = True
            self._value = value
            self._event.set()

    def set_error(self, error: BaseException) -> None:
        """Resolve with *error* (ignored when already resolved)."""
        if not self.done:
            self.done = True
            self._error = error
            self._event.set()

    @property
    def delivered(self) -> Any:
        """The value this waiter was resolved with; None while unresolved or when it failed."""
        return self._value if self.done and self._error is None else None

    async def wait(self) -> Any:
        """Wait for the outcome; return the value or raise the error."""
        if not self.done:
            await self._event.wait()
        if self._error is not None:
            raise self._error
        return self._value
