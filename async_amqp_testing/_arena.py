"""Where a plain-TCP connection's bytes land: append-only arenas of anonymous memory.

:class:`~._transport_session.BrokerProtocol` is an :class:`asyncio.BufferedProtocol`:
asyncio reads into the buffer it is given. A :class:`ReceiveArena` gives the free
end of a 1 MiB arena (an anonymous ``mmap``, so no page is written before a read
fills it), and after each read hands on a read-only view of the arena from its
start to the end of that read. The core reads such a view in place
(:meth:`async_amqp._core.server_input.ServerInput.receive_data`: a longer view of
the same arena replaces the shorter one), so:

* a read may take up to the rest of the arena, not asyncio's 256 KiB;
* a publish command cut by the end of one read is whole, in place, once the next
  read lands after it: nothing is joined (only at an arena's end, once per MiB);
* a large body stays a view of the arena (never written again) instead of a copy.

The cost: a queued large body keeps its whole arena (1 MiB) alive, as before it
kept its whole read (up to 256 KiB).
"""

from __future__ import annotations

import mmap
from typing import Final

__all__ = ["ARENA_SIZE", "MIN_READ", "ReceiveArena"]

#: The size of one arena.
ARENA_SIZE: Final = 1 << 20
#: The least free room a read is given: below it, the next read starts a new arena.
MIN_READ: Final = 64 << 10


class ReceiveArena:
    """The arena a connection reads into, and how far it is filled."""

    __slots__ = ("_filled", "_min_read", "_readable", "_size", "_writable")

    def __init__(self, size: int = ARENA_SIZE, min_read: int = MIN_READ) -> None:
        """:param size: the size of each arena
        :param min_read: the least room a read is given (at most *size*)"""
        self._size = size
        self._min_read = max(1, min(min_read, size))
        self._writable: memoryview | None = None
        self._readable = memoryview(b"")
        self._filled = size

    def free(self) -> memoryview:
        """The room for the next read (asyncio's ``get_buffer``): a new arena when the
        current one has less than the least room a read is given left."""
        if self._size - self._filled < self._min_read:
            area = mmap.mmap(-1, self._size)
            self._writable = memoryview(area)
            self._readable = self._writable.toreadonly()
            self._filled = 0
        assert self._writable is not None
        return self._writable[self._filled :]

    def filled(self, size: int) -> tuple[memoryview, int]:
        """Record a read of *size* bytes into :meth:`free`'s room; return the arena's
        bytes so far (a read-only view from its start) and where the new ones start."""
        start = self._filled
        self._filled = start + size
        return self._readable[: self._filled], start
