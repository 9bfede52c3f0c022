"""One-line descriptions of frames and events for the broker's debug logs.

Bodies are left out (only their sizes shown) and deep field tables are cut
short, so a fuzzed or hostile frame cannot make a log line huge or overflow
``repr``'s recursion.
"""

from __future__ import annotations

import reprlib
from typing import Final

from pamqp.base import Frame

from async_amqp._core import server as sv

from ._model import Deliver, Event, GetResult, Message, Return

__all__ = ["describe_event", "describe_method", "describe_reply"]


def _log_repr() -> reprlib.Repr:
    # Deep tables (RabbitMQ accepts thousands of levels) would overflow repr's recursion.
    limited = reprlib.Repr()
    limited.maxlevel = 8
    limited.maxstring = limited.maxother = 200
    limited.maxdict = limited.maxlist = limited.maxtuple = 32
    return limited


_LOG_REPR: Final = _log_repr()


def describe_method(method: Frame) -> str:
    """``Queue.Declare(queue='q', ...)`` for frame logs.

    :param method: a pamqp method
    """
    fields = ", ".join(
        f"{name}={_LOG_REPR.repr(getattr(method, name))}" for name in method.__slots__
    )
    return f"{method.name}({fields})"


def describe_reply(reply: Frame | tuple[Frame, Message]) -> str:
    """A reply for frame logs (a content reply with its body size).

    :param reply: a method, or a method with its message
    """
    if isinstance(reply, tuple):
        method, message = reply
        return f"{describe_method(method)} + {len(message.body)} bytes"
    return describe_method(reply)


def describe_event(event: sv.ServerEvent | Event | GetResult) -> str:
    """A core event or a model event for frame logs, without message bodies.

    :param event: the event
    """
    if isinstance(event, sv.MethodReceived):
        return f"channel {event.channel_id} {describe_method(event.method)}"
    if isinstance(event, sv.ContentReceived):
        return (
            f"channel {event.channel_id} {describe_method(event.method)} + {len(event.body)} bytes"
        )
    if isinstance(event, Deliver | Return):
        fields = ", ".join(
            f"{name}={getattr(event, name)!r}"
            for name in event.__slots__
            if name not in ("message", "channel_id")
        )
        return (
            f"channel {event.channel_id} {type(event).__name__}({fields}) "
            f"+ {len(event.message.body)} bytes"
        )
    return repr(event)
