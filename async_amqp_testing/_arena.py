"""Where a plain-TCP connection's bytes land: receive arenas, read in place or copied.

:class:`~._transport_session.BrokerProtocol` is an :class:`asyncio.BufferedProtocol`:
asyncio reads into the buffer it is given, the free end of a :class:`ReceiveArena`'s
current arena (a ``bytearray``). A read is handed on in one of two ways:

* **in place** (:attr:`ReceiveArena.views`, while large publishes arrive): a
  read-only view of the arena from its start to the end of the read; those bytes
  are never written again, and the next read lands after them. The core reads
  such a view in place (:meth:`async_amqp._core.server_input.ServerInput.receive_data`:
  a longer view of the same arena replaces the shorter one), so a large command
  cut by the end of one read is whole once the next read lands: nothing is
  joined (except at an arena's end), and a large body stays a view of its arena
  instead of a copy;
* **copied** (otherwise): the read lands in a scratch buffer of :data:`COPIED_READ`
  bytes shared by the thread's connections (a read is handed on before the next
  one starts), and is handed on as one ``bytes`` copy, as asyncio's own reads are.
  Small commands are read faster from ``bytes`` than from a view, copying them
  costs little, and a connection keeps no buffer of its own.

The core counts the publish commands larger than
:data:`~async_amqp._core.server_publish.PEEK` it reads; one in a read switches to
reading in place (in a new arena), :data:`QUIET_READS` reads without one switch
back. Arenas read in place are sized by the traffic: the next one is 16 times the
largest read into the current one, between :data:`MIN_ARENA` and :data:`MAX_ARENA`,
so one read may take up to 1 MiB, not asyncio's 256 KiB. The cost: a queued large
body keeps its whole arena alive (at most 1 MiB), as before it kept its whole
read (up to 256 KiB).
"""

from __future__ import annotations

import threading
from typing import Final

__all__ = ["COPIED_READ", "MAX_ARENA", "MIN_ARENA", "QUIET_READS", "ReceiveArena"]

#: The size of a quiet connection's arena (its first one too).
MIN_ARENA: Final = 16 << 10
#: The largest arena.
MAX_ARENA: Final = 1 << 20
#: Reads in a row without a large publish after which reads are copied again.
QUIET_READS: Final = 8
#: An arena read in place is left when less than this share of it is free (1/16).
_LEFT_AT: Final = 16
#: The most one copied read takes (asyncio's own read size).
COPIED_READ: Final = 256 << 10

# Each thread's scratch buffer for copied reads (brokers may run in several threads).
_scratch = threading.local()


def _scratch_room() -> memoryview:
    room: memoryview | None = getattr(_scratch, "room", None)
    if room is None:
        room = _scratch.room = memoryview(bytearray(COPIED_READ))
    return room


class ReceiveArena:
    """The arena a connection reads into, how far it is filled, its largest read."""

    __slots__ = ("_filled", "_largest", "_max", "_min", "_quiet", "_readable", "_writable", "views")

    def __init__(self, min_size: int = MIN_ARENA, max_size: int = MAX_ARENA) -> None:
        """:param min_size: the smallest arena (the first one)
        :param max_size: the largest arena"""
        self._min = max(1, min_size)
        self._max = max(self._min, max_size)
        self._writable = memoryview(bytearray())
        self._readable = self._writable
        self._filled = 0
        self._largest = 0
        self._quiet = 0
        #: True: reads are handed on in place (views); False: copied
        self.views = False

    def free(self) -> memoryview:
        """The room for the next read (asyncio's ``get_buffer``): the scratch buffer when
        reads are copied; else the arena's free end, or a new arena when less than a
        sixteenth of this one is free."""
        if not self.views:
            return _scratch_room()
        size = len(self._writable)
        if (size - self._filled) * _LEFT_AT < size or not size:
            wanted = min(self._max, max(self._min, self._largest * 16))
            self._writable = memoryview(bytearray(wanted))
            self._readable = self._writable.toreadonly()
            self._filled = 0
            self._largest = 0
        return self._writable[self._filled :]

    def filled(self, size: int) -> tuple[bytes | memoryview, int]:
        """Record a read of *size* bytes into :meth:`free`'s room; return what to hand
        on and where its new bytes start: in place, the arena's bytes so far (a read-only
        view from its start); else a copy of the read (starting at 0)."""
        if size > self._largest:
            self._largest = size  # copied reads too: they size the first arena read in place
        if not self.views:
            return bytes(_scratch_room()[:size]), 0
        start = self._filled
        self._filled = start + size
        return self._readable[: self._filled], start

    def read_was(self, large: bool) -> None:
        """After a read was processed: whether it had a large publish (see above)."""
        if large:
            self._quiet = 0
            self.views = True  # copied reads keep no arena: free() starts one
        elif self.views:
            self._quiet += 1
            if self._quiet >= QUIET_READS:
                self.views = False
                # Let the arena go (its views keep what they hold).
                self._writable = self._readable = memoryview(bytearray())
                self._filled = 0
                self._largest = 0
