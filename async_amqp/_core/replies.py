"""Matching synchronous replies to requests, per channel, first in first out.

AMQP answers a channel's synchronous methods in the order they were sent, so
each channel keeps a FIFO of pending requests. Expected reply classes come
from pamqp's ``valid_responses``. A caller that stops waiting (cancelled)
*abandons* its slot instead of removing it: the late reply still has to be
consumed in order, and the slot tells the I/O layer nobody wants it.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pamqp import commands
from pamqp.base import Frame

_CLASSES_BY_NAME: dict[str, type[Frame]] = {
    method_class.name: method_class for method_class in commands.INDEX_MAPPING.values()
}


def expected_replies(method_class: type[Frame]) -> frozenset[type[Frame]]:
    """Return the reply classes pamqp lists as valid for *method_class*."""
    return frozenset(_CLASSES_BY_NAME[name] for name in method_class.valid_responses)


#: Every method class that is a reply to some synchronous request.
REPLY_CLASSES: frozenset[type[Frame]] = frozenset(
    reply
    for method_class in commands.INDEX_MAPPING.values()
    for reply in expected_replies(method_class)
)


class PendingReply:
    """One outstanding synchronous request: what may answer it, and who waits.

    :param request: the request's method class
    :param waiter: an opaque object of the I/O layer that is woken with the reply
    """

    __slots__ = ("abandoned", "expected", "request", "waiter")

    def __init__(self, request: type[Frame], waiter: Any = None) -> None:
        self.request = request
        self.expected = expected_replies(request)
        self.waiter = waiter
        self.abandoned = False

    def __repr__(self) -> str:
        return f"<PendingReply {self.request.name}{' abandoned' if self.abandoned else ''}>"


class UnexpectedReplyError(Exception):
    """A reply arrived that does not answer the oldest pending request."""


class ReplyQueue:
    """The FIFO of a channel's pending synchronous requests."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: deque[PendingReply] = deque()

    def __len__(self) -> int:
        return len(self._pending)

    def expect(self, request: type[Frame], waiter: Any = None) -> PendingReply:
        """Register a request just sent; return its slot."""
        slot = PendingReply(request, waiter)
        self._pending.append(slot)
        return slot

    def match(self, reply: Frame) -> PendingReply:
        """Pop and return the slot *reply* answers.

        :raises UnexpectedReplyError: when no request is pending or the oldest one
            does not accept this reply
        """
        if not self._pending:
            raise UnexpectedReplyError(f"{reply.name} arrived but no request is pending")
        slot = self._pending[0]
        if type(reply) not in slot.expected:
            raise UnexpectedReplyError(
                f"{reply.name} arrived while {slot.request.name} awaits "
                f"{', '.join(sorted(cls.name for cls in slot.expected))}"
            )
        return self._pending.popleft()

    def drain(self) -> list[PendingReply]:
        """Remove and return every pending slot (the channel or connection ended)."""
        slots = list(self._pending)
        self._pending.clear()
        return slots
