"""Matching synchronous replies to requests, per channel, first in first out.

Each channel keeps a FIFO of synchronous requests, and only its head is on
the wire: RabbitMQ does not always answer pipelined requests in order (a
consume-ok travels through the queue process and can arrive after the
qos-ok of a later basic.qos), so, like the reference clients, we send the
next request when the previous one is answered. Expected reply classes come
from pamqp's ``valid_responses``. A caller that stops waiting (cancelled)
*abandons* its slot: a request not yet sent is simply dropped; one on the
wire keeps its place, its late reply is consumed and the I/O layer is told
nobody wants it.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import Any

from pamqp import commands
from pamqp.base import Frame

_CLASSES_BY_NAME: dict[str, type[Frame]] = {
    method_class.name: method_class  # type: ignore[attr-defined]  # pamqp: type[Frame] | type
    for method_class in commands.INDEX_MAPPING.values()
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

    __slots__ = ("abandoned", "expected", "frame", "request", "sent", "waiter")

    def __init__(self, request: type[Frame], waiter: Any = None, frame: bytes = b"") -> None:
        self.request = request
        self.expected = expected_replies(request)
        self.waiter = waiter
        self.abandoned = False
        #: the encoded request, until it is sent
        self.frame = frame
        self.sent = False

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

    def expect(self, request: type[Frame], waiter: Any = None, frame: bytes = b"") -> PendingReply:
        """Queue a request (its encoded *frame* is sent by :meth:`take_sendable`)."""
        slot = PendingReply(request, waiter, frame)
        self._pending.append(slot)
        return slot

    def expect_sent(self, request: type[Frame], waiter: Any = None) -> PendingReply:
        """Register a request that went out at once, ahead of the queue (channel.close)."""
        slot = self.expect(request, waiter)
        slot.sent = True
        return slot

    def take_sendable(self) -> bytes | None:
        """Return the head request's frame when it has not been sent yet."""
        if not self._pending:
            return None
        head = self._pending[0]
        if head.sent:
            return None
        head.sent = True
        frame, head.frame = head.frame, b""
        return frame

    def abandon(self, slot: PendingReply) -> None:
        """The caller stopped waiting: drop the request if unsent, else ignore its reply."""
        if not slot.sent:
            with contextlib.suppress(ValueError):
                self._pending.remove(slot)
            return
        slot.abandoned = True

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
