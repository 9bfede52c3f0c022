"""Protocol details the broker applies around the server core.

The core owns framing and the connection state machine; these are the
things it leaves to the broker: cutting received bytes into one-frame pieces
(so replies and errors come out in arrival order), reading SASL responses
and published property lists as strictly (and as leniently) as RabbitMQ,
telling which errors RabbitMQ answers by dropping the socket or by a grace
period, ``access.request`` (a 0-9-1 method pamqp cannot decode, which
RabbitMQ still answers), the connection.start properties, and the one-line
descriptions of frames in the logs.
"""

from __future__ import annotations

import reprlib
import struct
import sys
from typing import Any, Final

from pamqp import commands
from pamqp.base import Frame

from async_amqp._core import server as sv
from async_amqp._core.erlang import binary_w
from async_amqp._core.errors import FrameError, ProtocolError
from async_amqp._version import __version__

from ._model import Deliver, Event, GetResult, Message, Return
from ._model.fieldtable import FieldTableError, decode_table
from ._model.message import PropertyList, decode_property_list

__all__ = [
    "ACCESS_REQUEST",
    "ACCESS_REQUEST_OK",
    "CAPABILITIES",
    "FrameSplitter",
    "answer_access_request",
    "decode_publish_properties",
    "describe_event",
    "describe_method",
    "describe_reply",
    "drops_immediately",
    "is_fatal_frame_error",
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

#: access.request's class and method id (30/10), and its reply's payload (ticket 1).
ACCESS_REQUEST: Final = struct.pack(">HH", 30, 10)
ACCESS_REQUEST_OK: Final = struct.pack(">HHH", 30, 11, 1)


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


def decode_publish_properties(raw: bytes) -> commands.Basic.Properties:
    """Decode a published message's property list, as strictly and as leniently as RabbitMQ.

    The layout must be exact (no continuation flags, nothing truncated, nothing left
    over) and the headers a well-formed table (of any depth), but strings need not be
    UTF-8 and a timestamp need not fit a ``datetime``: RabbitMQ keeps them as they are.

    :param raw: the content header's property flags and list
    :raises ValueError: where RabbitMQ closes the connection with 541 INTERNAL_ERROR
    """
    if len(raw) < 2 or raw[1] & 1:
        raise ValueError("property flags are truncated or continued")
    try:
        slots = PropertyList.parse(raw)
    except (ValueError, IndexError, struct.error) as error:
        raise ValueError(f"property list does not decode: {error}") from error
    if slots.encode() != raw:
        raise ValueError("bytes after the property list")
    return decode_property_list(slots)


def is_fatal_frame_error(error: ProtocolError) -> bool:
    """True for the frame errors after which RabbitMQ stops reading (a bad frame end, a
    frame over frame_max): it sends connection.close and closes the socket 3 s later.

    :param error: the core's error
    """
    return isinstance(error, FrameError) and (
        "{invalid_frame_end_marker," in error.reply_text or "{frame_too_large," in error.reply_text
    )


def answer_access_request(core: sv.ServerConnection, frame: bytes) -> bool | ProtocolError:
    """Answer access.request (30/10) as RabbitMQ does, which pamqp cannot decode.

    Returns True when handled (the reply, ticket 1, is queued on *core*), False when the
    core should see the frame (it is not a whole valid frame, or the connection is not
    open), or the error to close the connection with.

    :param core: the connection's server core
    :param frame: one whole method frame holding an access.request
    """
    if (
        core.state is not sv.ServerState.OPEN
        or frame[-1] != 0xCE
        or len(frame) - 8 > core.frame_max
    ):
        return False
    channel_id = int.from_bytes(frame[1:3], "big")
    payload = frame[7:-1]
    if channel_id == 0:
        return ProtocolError(
            504, "unexpected method in connection state running", class_id=30, method_id=10
        )
    if channel_id not in core.open_channel_ids:
        return ProtocolError(504, "expected 'channel.open'", class_id=30, method_id=10)
    if not core.channel_is_open(channel_id):
        return True  # the broker is closing this channel: discarded until close-ok
    if len(payload) < 6 or len(payload) != 4 + 1 + payload[4] + 1:
        return FrameError(f"cannot decode {binary_w(payload[4:])}", class_id=30, method_id=10)
    reply = ACCESS_REQUEST_OK
    core.send_raw(b"\x01" + frame[1:3] + len(reply).to_bytes(4, "big") + reply + b"\xce")
    return True


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


class FrameSplitter:
    """Cuts received bytes at frame boundaries.

    The core processes whatever it is given in one go and queues some replies
    itself (open-ok, close-ok); feeding it one frame at a time lets each
    method's reply, and each error, come out in the order the frames arrived.
    The first 8 bytes (the protocol header) are one piece.
    """

    __slots__ = ("_frame_type", "_head", "_remaining", "_whole")

    def __init__(self) -> None:
        self._remaining = 8
        self._frame_type = -1
        self._head = b""
        self._whole = False

    def split(self, data: bytes) -> list[tuple[int, bytes, bool]]:
        """Return ``(frame_type, piece, whole)`` for each piece of *data*.

        A piece ends where a frame ends (type -1: a frame still unfinished); ``whole``
        is True when the piece is exactly one frame, header and end octet included.

        :param data: bytes as received
        """
        pieces: list[tuple[int, bytes, bool]] = []
        position = 0
        start = 0
        size = len(data)
        while position < size:
            if self._remaining:
                step = min(self._remaining, size - position)
                position += step
                self._remaining -= step
                if not self._remaining:
                    pieces.append((self._frame_type, data[start:position], self._whole))
                    start = position
                continue
            self._whole = not self._head and position == start
            wanted = 7 - len(self._head)
            self._head += data[position : position + wanted]
            position = min(position + wanted, size)
            if len(self._head) < 7:
                break
            self._frame_type = self._head[0]
            self._remaining = int.from_bytes(self._head[3:7], "big") + 1
            self._head = b""
        if start < size:
            pieces.append((-1, data[start:], False))  # an unfinished frame
            self._whole = False  # its end, in a later chunk, is not a whole frame
        return pieces


def drops_immediately(error: ProtocolError) -> bool:
    """True for errors after which RabbitMQ closes the socket at once, even in the handshake.

    Its frame parser crashes on an unknown method, or a field table in a method's
    arguments that holds an unknown type or is malformed inside (other handshake errors
    wait 3 s).

    :param error: the core's error
    """
    text = error.reply_text
    return not error.send_close and (
        "unknown method" in text or "unknown field type" in text or "malformed field table" in text
    )
