"""AMQP 0-9-1 reply codes: the one table both roles build on.

Each code has its symbolic name, whether it is a hard error (RabbitMQ closes
the connection with it) or a soft one (it closes only the channel), the text a
bare reply carries, and the name of the client's exception class for it
(:mod:`async_amqp.exceptions` builds its code-to-class tables from this; the
fake broker decides channel-versus-connection scope from ``hard``). Also here:
the split of a method's 32-bit index into its class and method ids.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from pamqp.base import Frame


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


@dataclass(frozen=True, slots=True)
class ReplyCodeInfo:
    """What the protocol and RabbitMQ say about one reply code."""

    code: ReplyCode
    #: A hard error closes the connection; a soft one only the channel.
    hard: bool
    #: The reply text of a bare reply with this code.
    default_text: str
    #: The :mod:`async_amqp.exceptions` class raised for it ("" when the base class is).
    exception: str

    @property
    def name(self) -> str:
        """The code's symbolic name (``NOT_FOUND``)."""
        return self.code.name


def _info(code: ReplyCode, hard: bool, exception: str = "", text: str = "") -> ReplyCodeInfo:
    return ReplyCodeInfo(code, hard, text or code.name, exception)


_C = ReplyCode
#: Every reply code, by number.
REPLY_CODES: Final = MappingProxyType(
    {
        info.code.value: info
        for info in (
            _info(_C.REPLY_SUCCESS, False, text="Normal shutdown"),
            _info(_C.CONTENT_TOO_LARGE, False),
            _info(_C.NO_ROUTE, False),
            _info(_C.NO_CONSUMERS, False),
            _info(_C.CONNECTION_FORCED, True, "ConnectionForcedError"),
            _info(_C.INVALID_PATH, True),
            _info(_C.ACCESS_REFUSED, False, "AccessRefusedError"),
            _info(_C.NOT_FOUND, False, "NotFoundError"),
            _info(_C.RESOURCE_LOCKED, False, "ResourceLockedError"),
            _info(_C.PRECONDITION_FAILED, False, "PreconditionFailedError"),
            _info(_C.FRAME_ERROR, True, "FrameError"),
            _info(_C.SYNTAX_ERROR, True, "AmqpSyntaxError"),
            _info(_C.COMMAND_INVALID, True, "CommandInvalidError"),
            _info(_C.CHANNEL_ERROR, True, "InvalidChannelError"),
            _info(_C.UNEXPECTED_FRAME, True, "UnexpectedFrameError"),
            _info(_C.RESOURCE_ERROR, True, "ResourceError"),
            _info(_C.NOT_ALLOWED, True, "NotAllowedError"),
            _info(_C.NOT_IMPLEMENTED, True, "NotImplementedByBrokerError"),
            _info(_C.INTERNAL_ERROR, True, "BrokerInternalError"),
        )
    }
)
del _C

#: The codes that close the whole connection (RabbitMQ's hard errors).
HARD_ERROR_CODES: Final = frozenset(code for code, info in REPLY_CODES.items() if info.hard)


def reply_name(reply_code: int) -> str:
    """Return the symbolic name of *reply_code* (``'UNKNOWN'`` when it has none)."""
    info = REPLY_CODES.get(reply_code)
    return "UNKNOWN" if info is None else info.name


def is_hard_error(reply_code: int) -> bool:
    """True when *reply_code* closes the connection rather than a channel."""
    return reply_code in HARD_ERROR_CODES


def method_ids(method: Frame | type[Frame]) -> tuple[int, int]:
    """``(class_id, method_id)`` of a pamqp method (instance or class), from its index."""
    index = method.index
    return index >> 16, index & 0xFFFF


def class_id_of(method: Frame | type[Frame]) -> int:
    """The AMQP class id of a pamqp method (instance or class): its index's high half."""
    return method.index >> 16


def method_id_of(method: Frame | type[Frame]) -> int:
    """The method id of a pamqp method (instance or class) within its class."""
    return method.index & 0xFFFF
