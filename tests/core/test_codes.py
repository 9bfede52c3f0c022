"""The reply-code table in ``_core/codes.py`` and what is built from it."""

from __future__ import annotations

from pamqp import commands

from async_amqp import exceptions
from async_amqp._core.codes import (
    HARD_ERROR_CODES,
    REPLY_CODES,
    ReplyCode,
    class_id_of,
    method_id_of,
    method_ids,
    reply_name,
)
from async_amqp_testing._model.errors import AmqpError, not_found


def test_every_reply_code_is_in_the_table_once() -> None:
    assert sorted(REPLY_CODES) == sorted(code.value for code in ReplyCode)
    for code, info in REPLY_CODES.items():
        assert info.code == code
        assert reply_name(code) == info.name == ReplyCode(code).name
    assert reply_name(299) == "UNKNOWN"


def test_the_hard_errors_are_rabbitmqs() -> None:
    """The codes that close the connection, as the AMQP 0-9-1 spec and RabbitMQ have them."""
    assert {320, 402, 501, 502, 503, 504, 505, 506, 530, 540, 541} == HARD_ERROR_CODES


def test_the_client_exception_classes_follow_the_table() -> None:
    """Each named class exists, has the code as default, and its scope matches hard/soft."""
    for code, info in REPLY_CODES.items():
        if not info.exception:
            continue
        cls = getattr(exceptions, info.exception)
        assert cls.default_code == code
        base = exceptions.ConnectionClosedError if info.hard else exceptions.ChannelClosedError
        assert issubclass(cls, base), info
        built = (exceptions.connection_error if info.hard else exceptions.channel_error)(code, "x")
        assert type(built) is cls


def test_an_unnamed_code_gets_the_base_class() -> None:
    assert type(exceptions.connection_error(402, "INVALID_PATH")) is (
        exceptions.ConnectionClosedError
    )
    assert type(exceptions.channel_error(312, "NO_ROUTE")) is exceptions.ChannelClosedError
    login = exceptions.connection_error(403, "ACCESS_REFUSED", during_login=True)
    assert type(login) is exceptions.AuthenticationError


def test_the_broker_errors_scope_follows_the_table() -> None:
    assert not not_found("queue 'q'").is_connection_error
    for code in HARD_ERROR_CODES:
        assert AmqpError(code, "x").is_connection_error


def test_method_ids() -> None:
    publish = commands.Basic.Publish()
    assert method_ids(publish) == method_ids(commands.Basic.Publish) == (60, 40)
    assert class_id_of(commands.Connection.Secure) == 10
    assert method_id_of(commands.Connection.Secure) == 20
