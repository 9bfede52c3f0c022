"""Reply-code errors the broker model raises.

The model refuses an operation by raising `AmqpError` with RabbitMQ's reply
code and full reply text; the wire side turns it into `channel.close` or
`connection.close` (adding the class/method id of the method it was handling).
Helpers below spell the texts RabbitMQ uses so every module words them alike.
"""

from __future__ import annotations

__all__ = [
    "CONNECTION_ERROR_CODES",
    "AmqpError",
    "ReplyCode",
    "access_refused",
    "internal_error",
    "not_allowed",
    "not_found",
    "not_implemented",
    "precondition_failed",
    "resource_locked",
]

from async_amqp._core.codes import HARD_ERROR_CODES, ReplyCode

#: The codes that close the connection (hard errors), from the core's reply-code table.
CONNECTION_ERROR_CODES = HARD_ERROR_CODES


class AmqpError(Exception):
    """An operation refused with an AMQP reply code and RabbitMQ's exact reply text."""

    def __init__(
        self, reply_code: int, reply_text: str, *, connection_error: bool | None = None
    ) -> None:
        """:param connection_error: overrides the code's usual channel/connection scope."""
        super().__init__(reply_code, reply_text)
        self.reply_code = reply_code
        self.reply_text = reply_text
        self._connection_error = connection_error

    @property
    def is_connection_error(self) -> bool:
        """True when the error closes the whole connection rather than the channel."""
        if self._connection_error is not None:
            return self._connection_error
        return self.reply_code in CONNECTION_ERROR_CODES

    def __str__(self) -> str:
        return f"{self.reply_code} {self.reply_text}"


def not_found(detail: str) -> AmqpError:
    """404 NOT_FOUND - detail."""
    return AmqpError(ReplyCode.NOT_FOUND, f"NOT_FOUND - {detail}")


def access_refused(detail: str) -> AmqpError:
    """403 ACCESS_REFUSED - detail."""
    return AmqpError(ReplyCode.ACCESS_REFUSED, f"ACCESS_REFUSED - {detail}")


def resource_locked(detail: str) -> AmqpError:
    """405 RESOURCE_LOCKED - detail."""
    return AmqpError(ReplyCode.RESOURCE_LOCKED, f"RESOURCE_LOCKED - {detail}")


def precondition_failed(detail: str) -> AmqpError:
    """406 PRECONDITION_FAILED - detail."""
    return AmqpError(ReplyCode.PRECONDITION_FAILED, f"PRECONDITION_FAILED - {detail}")


def not_implemented(detail: str) -> AmqpError:
    """540 NOT_IMPLEMENTED - detail (a connection error)."""
    return AmqpError(ReplyCode.NOT_IMPLEMENTED, f"NOT_IMPLEMENTED - {detail}")


def not_allowed(detail: str) -> AmqpError:
    """530 NOT_ALLOWED - detail (a connection error)."""
    return AmqpError(ReplyCode.NOT_ALLOWED, f"NOT_ALLOWED - {detail}")


def internal_error() -> AmqpError:
    """Bare 541 INTERNAL_ERROR, as RabbitMQ sends when a validator crashes."""
    return AmqpError(ReplyCode.INTERNAL_ERROR, "INTERNAL_ERROR")
