"""Wire details the broker still applies around the server core (bound for ``_core``).

The core owns framing and the connection state machine; these are the
things it still leaves to the broker: cutting received bytes into one-frame
pieces (so replies and errors come out in arrival order), reading published
property lists as strictly (and as leniently) as RabbitMQ, telling which
errors RabbitMQ answers by dropping the socket or by a grace period, and
``access.request`` (a 0-9-1 method pamqp cannot decode, which RabbitMQ still
answers). The connection.start properties are in :mod:`._server_identity`,
SASL responses in :mod:`._sasl`, frame log lines in :mod:`._framelog`.
"""

from __future__ import annotations

import struct
from typing import Final

from pamqp import commands

from async_amqp._core import server as sv
from async_amqp._core.erlang import binary_w
from async_amqp._core.errors import FrameError, ProtocolError

from ._model.message import PropertyList, decode_property_list

__all__ = [
    "ACCESS_REQUEST",
    "ACCESS_REQUEST_OK",
    "FrameSplitter",
    "answer_access_request",
    "decode_publish_properties",
    "drops_immediately",
    "is_fatal_frame_error",
]

#: access.request's class and method id (30/10), and its reply's payload (ticket 1).
ACCESS_REQUEST: Final = struct.pack(">HH", 30, 10)
ACCESS_REQUEST_OK: Final = struct.pack(">HHH", 30, 11, 1)


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
