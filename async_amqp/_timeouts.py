"""How long leaving a block may wait for the broker to confirm a close or a cancel.

Leaving ``async with connect_amqp()``, ``new_channel()`` or ``new_consumer()`` runs
a close (or cancel) handshake, shielded from cancellation so it can complete. It is
bounded: :data:`CLOSE_TIMEOUT` normally, and the shorter
:data:`CANCELLED_CLOSE_TIMEOUT` when the block is left because it was cancelled —
the caller asked to stop, and a broker that does not answer within that time gets
its socket closed instead (it cleans up after a dropped connection all the same).
"""

from __future__ import annotations

import anyio

#: How long a graceful close waits for the broker's close-ok (or cancel-ok).
CLOSE_TIMEOUT = 5.0
#: The same, when the block is being left because it was cancelled.
CANCELLED_CLOSE_TIMEOUT = 1.0
#: How long the writer may take to send what is left (a close-ok) before the socket closes.
FLUSH_TIMEOUT = 1.0


def close_timeout(exc_type: type[BaseException] | None) -> float:
    """The bound for a close handshake run while leaving a block with *exc_type*."""
    if exc_type is not None and issubclass(exc_type, anyio.get_cancelled_exc_class()):
        return CANCELLED_CLOSE_TIMEOUT
    return CLOSE_TIMEOUT


def shielded_for(seconds: float) -> anyio.CancelScope:
    """A scope that cancellation from outside cannot reach, and that ends its block after
    *seconds*: ``CancelScope(shield=True)`` around ``move_on_after(seconds)`` in one scope."""
    return anyio.CancelScope(shield=True, deadline=anyio.current_time() + seconds)
