"""Protocol details the broker applies around the server core.

The core owns framing and the connection state machine; these are the
things it leaves to the broker: cutting received bytes into one-frame pieces
(so replies and errors come out in arrival order), reading SASL responses
and published property lists as strictly (and as leniently) as RabbitMQ,
the connection.start properties, and the one-line descriptions of frames in
the logs. (How each protocol error ends the connection is the error's
``policy``, decided by the core, which also answers ``access.request``.)
"""

from __future__ import annotations

import reprlib
import sys
from typing import Any, Final

from pamqp.base import Frame

from async_amqp._core import server as sv
from async_amqp._core.incremental import FrameSplitter
from async_amqp._core.rawprops import decode_publish_properties
from async_amqp._version import __version__

from ._model import Deliver, Event, GetResult, Message, Return
from ._model.fieldtable import FieldTableError, decode_table

__all__ = [
    "CAPABILITIES",
    "FrameSplitter",
    "decode_publish_properties",
    "describe_event",
    "describe_method",
    "describe_reply",
    "parse_credentials",
    "server_properties",
]

#: Capabilities RabbitMQ 3.10 announces in connection.start, all true.
CAPABILITIES: Final = (
    "publisher_confirms",
    "exchange_exchange_bindings",
    "basic.nack",
    "consumer_cancel_notify",
    "connection.blocked",
    "consumer_priorities",
    "authentication_failure_close",
    "per_consumer_qos",
    "direct_reply_to",
)

#: The RabbitMQ release whose behaviour the fake broker models (observed on it).
MODELLED_RABBITMQ_VERSION: Final = "3.10.8"


def server_properties(
    cluster_name: str, version: str = MODELLED_RABBITMQ_VERSION
) -> dict[str, Any]:
    """The connection.start properties: RabbitMQ's keys and capabilities, our own identity.

    ``version`` is the RabbitMQ version the broker behaves like, dotted and numeric as
    RabbitMQ sends it, because clients parse it to pick features; ``product`` and
    ``information`` say honestly that this is async_amqp_testing (and its own version).

    :param cluster_name: the ``cluster_name`` value
    :param version: the ``version`` value
    """
    return {
        "capabilities": dict.fromkeys(CAPABILITIES, True),
        "cluster_name": cluster_name,
        "copyright": "Copyright (c) the async_amqp authors",
        "information": (
            f"async_amqp_testing {__version__}: an in-process broker that behaves like "
            f"RabbitMQ {MODELLED_RABBITMQ_VERSION}"
        ),
        "platform": f"Python {sys.version.split()[0]}",
        "product": "async_amqp_testing",
        "version": version,
    }


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


def parse_credentials(mechanism: str, response: bytes) -> tuple[str, str] | None:
    """Return ``(user, password)`` from a SASL response, or None when RabbitMQ would refuse it.

    PLAIN must be exactly ``\\0user\\0password`` (an authorisation id, a missing or an extra
    field are refused); AMQPLAIN is a field table, without its length prefix, holding
    ``LOGIN`` and ``PASSWORD`` longstrs. Mechanism names are case-sensitive.

    :param mechanism: the mechanism named in connection.start-ok
    :param response: the response bytes
    """
    if mechanism == "PLAIN":
        parts = response.split(b"\0")
        if len(parts) != 3 or parts[0]:
            return None
        user, password = parts[1], parts[2]
    elif mechanism == "AMQPLAIN":
        try:
            table = decode_table(response)
        except FieldTableError:
            return None
        login, secret = table.get("LOGIN"), table.get("PASSWORD")
        if login is None or secret is None or login.tag != "S" or secret.tag != "S":
            return None
        user, password = bytes(login.value), bytes(secret.value)
    else:
        return None
    return user.decode("utf-8", "surrogateescape"), password.decode("utf-8", "surrogateescape")
