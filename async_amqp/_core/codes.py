"""AMQP 0-9-1 reply codes and their symbolic names.

Both roles need them: the client maps a code to an exception class, the
broker writes ``NAME - detail`` reply texts the way RabbitMQ does.
"""

from __future__ import annotations

import enum


class ReplyCode(enum.IntEnum):
    """Reply codes of AMQP 0-9-1 (and RabbitMQ's use of them)."""

    REPLY_SUCCESS = 200
    CONTENT_TOO_LARGE = 311
    NO_ROUTE = 312
    NO_CONSUMERS = 313
    CONNECTION_FORCED = 320
    INVALID_PATH = 402
    ACCESS_REFUSED = 403
    NOT_FOUND = 404
    RESOURCE_LOCKED = 405
    PRECONDITION_FAILED = 406
    FRAME_ERROR = 501
    SYNTAX_ERROR = 502
    COMMAND_INVALID = 503
    CHANNEL_ERROR = 504
    UNEXPECTED_FRAME = 505
    RESOURCE_ERROR = 506
    NOT_ALLOWED = 530
    NOT_IMPLEMENTED = 540
    INTERNAL_ERROR = 541


def reply_name(reply_code: int) -> str:
    """Return the symbolic name of *reply_code* (``'UNKNOWN'`` when it has none)."""
    try:
        return ReplyCode(reply_code).name
    except ValueError:
        return "UNKNOWN"
