"""A one-shot result slot that one task awaits and the reader fills in.

anyio has no future type; this is the smallest one that suits us: the
reader (synchronous code) calls :meth:`set_result`/:meth:`set_error`, and the
caller awaits :meth:`wait`. Setting twice keeps the first outcome.
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

    async def wait(self) -> Any:
        """Wait for the outcome; return the value or raise the error."""
        if not self.done:
            await self._event.wait()
        if self._error is not None:
            raise self._error
        return self._value
