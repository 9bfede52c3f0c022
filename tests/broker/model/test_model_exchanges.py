"""exchange.* semantics: declare checks, reserved names, delete, E2E, AE, internal, auto-delete."""

from __future__ import annotations

import pytest
from pamqp.commands import Basic

from async_amqp_testing._model import AmqpError, BrokerModel, Return
from async_amqp_testing._model.fieldtable import typed

from .modelkit import Client, raises

V = "in vhost '/'"


def test_unknown_type_is_a_connection_error(client: Client) -> None:
    err = raises(
        503,
        "COMMAND_INVALID - unknown exchange type 'Topic'",
        client.channel().exchange_declare,
        "x",
        "Topic",
    )
    assert err.is_connection_error


def test_type_is_checked_first_and_atom_names_are_invalid(client: Client) -> None:
    raises(
        503,
        "COMMAND_INVALID - unknown exchange type 'nope'",
        client.channel().exchange_declare,
        "",
        "nope",
    )
    raises(
        503,
        "COMMAND_INVALID - invalid exchange type 'foo'",
        client.channel(2).exchange_declare,
        "amq.x",
        "foo",
    )


def test_passive_declare_checks_existence_only(client: Client) -> None:
    ch = client.channel()
    ch.exchange_declare("x", "fanout")
    ch.exchange_declare("x", "topic", passive=True, durable=True)
    raises(404, f"NOT_FOUND - no exchange 'nope' {V}", ch.exchange_declare, "nope", "direct", True)


@pytest.mark.parametrize(
    ("kwargs", "flag", "received", "current"),
    [
        ({"type": "topic"}, "type", "topic", "fanout"),
        ({"durable": True}, "durable", "true", "false"),
        ({"auto_delete": True}, "auto_delete", "true", "false"),
        ({"internal": True}, "internal", "true", "false"),
    ],
)
def test_redeclare_mismatch(
    client: Client, kwargs: dict[str, object], flag: str, received: str, current: str
) -> None:
    ch = client.channel()
    ch.exchange_declare("x", "fanout")
    args = {"name": "x", "type": "fanout", **kwargs}
    err = raises(
        406,
        f"PRECONDITION_FAILED - inequivalent arg '{flag}' for exchange 'x' {V}: "
        f"received '{received}' but current is '{current}'",
        ch.exchange_declare,
        **args,
    )
    assert not err.is_connection_error


def test_alternate_exchange_equivalence(client: Client) -> None:
    ch = client.channel()
    ch.exchange_declare("x", "fanout", arguments={"alternate-exchange": "ae"})
    ch.exchange_declare(
        "x", "fanout", arguments={"alternate-exchange": typed("x", b"ae"), "other": 1}
    )
    raises(
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'x' {V}: "
        "received none but current is the value 'ae' of type 'longstr'",
        ch.exchange_declare,
        "x",
        "fanout",
    )
    raises(
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'x' {V}: "
        "received 'other' but current is 'ae'",
        ch.exchange_declare,
        "x",
        "fanout",
        arguments={"alternate-exchange": "other"},
    )
    raises(
        406,
        f"PRECONDITION_FAILED - invalid type 'signedint' for arg 'alternate-exchange' in "
        f"exchange 'y' {V}",
        ch.exchange_declare,
        "y",
        "fanout",
        arguments={"alternate-exchange": 1},
    )


def test_reserved_names(client: Client) -> None:
    ch = client.channel()
    raises(
        403,
        "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'",
        ch.exchange_declare,
        "amq.foo",
        "direct",
    )
    raises(
        404,
        f"NOT_FOUND - no exchange 'amq.foo' {V}",
        ch.exchange_declare,
        "amq.foo",
        "direct",
        True,
    )
    ch.exchange_declare("amq.direct", "direct", durable=True)
    ch.exchange_declare("amq.rabbitmq.trace", "topic", durable=True, internal=True)
    ch.exchange_declare("amq.match", "x", passive=True)
    raises(
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'amq.topic' {V}: "
        "received 'false' but current is 'true'",
        ch.exchange_declare,
        "amq.topic",
        "topic",
    )
    raises(
        403,
        f"ACCESS_REFUSED - deletion of system exchange 'amq.direct' {V} not allowed",
        ch.exchange_delete,
        "amq.direct",
    )


def test_default_exchange_is_untouchable(client: Client) -> None:
    ch = client.channel()
    ch.queue_declare("q")
    ch.exchange_declare("x", "direct")
    text = "ACCESS_REFUSED - operation not permitted on the default exchange"
    raises(403, text, ch.exchange_declare, "", "direct")
    raises(403, text, ch.exchange_declare, "", "direct", True)
    raises(403, text, ch.exchange_delete, "")
    raises(403, text, ch.queue_bind, "q", "")
    raises(403, text, ch.queue_unbind, "q", "")
    raises(403, text, ch.exchange_bind, "x", "")
    raises(403, text, ch.exchange_bind, "", "x")
    raises(
        404,
        f"NOT_FOUND - no exchange 'amq.default' {V}",
        ch.exchange_declare,
        "amq.default",
        "direct",
        True,
    )
    raises(404, f"NOT_FOUND - no exchange 'amq.default' {V}", client.publish, "amq.default", "q")


def test_delete_missing_and_if_unused(client: Client) -> None:
    ch = client.channel()
    ch.exchange_delete("missing", if_unused=True)
    ch.exchange_declare("src", "fanout")
    ch.exchange_declare("dst", "fanout")
    ch.queue_declare("q")
    ch.queue_bind("q", "src")
    raises(406, f"PRECONDITION_FAILED - exchange 'src' {V} in use", ch.exchange_delete, "src", True)
    ch.queue_unbind("q", "src")
    ch.exchange_bind("dst", "src")
    raises(406, f"PRECONDITION_FAILED - exchange 'src' {V} in use", ch.exchange_delete, "src", True)
    # Being only an E2E destination does not count as in use.
    ch.exchange_delete("dst", if_unused=True)
    assert client.broker.snapshot().exchanges["src"].bindings == ()


def test_redeclared_exchange_starts_empty(client: Client) -> None:
    ch = client.channel()
    ch.exchange_declare("x", "fanout")
    ch.queue_declare("q")
    ch.queue_bind("q", "x")
    ch.exchange_delete("x")
    ch.exchange_declare("x", "fanout")
    client.publish("x", "")
    assert ch.queue_declare("q", passive=True) == ("q", 0, 0)


def test_e2e_bindings_missing_ends_and_one_copy_per_queue(client: Client) -> None:
    ch = client.channel()
    ch.exchange_declare("a", "fanout")
    ch.exchange_declare("b", "fanout")
    raises(404, f"NOT_FOUND - no exchange 'zz' {V}", ch.exchange_bind, "zz", "a")
    raises(404, f"NOT_FOUND - no exchange 'zz' {V}", client.channel(2).exchange_bind, "a", "zz")
    ch = client.channel(3)
    ch.exchange_unbind("b", "zz")
    ch.exchange_bind("b", "a")
    ch.exchange_bind("a", "b")  # cycle
    ch.queue_declare("q")
    ch.queue_bind("q", "a")
    ch.queue_bind("q", "b")
    client.publish("a", "", channel_id=3)
    assert ch.queue_declare("q", passive=True)[1] == 1


def test_alternate_exchange_chain_and_mandatory(client: Client) -> None:
    ch = client.channel()
    ch.exchange_declare("ae2", "fanout")
    ch.exchange_declare("ae1", "direct", arguments={"alternate-exchange": "ae2"})
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae1"})
    ch.queue_declare("q")
    ch.queue_bind("q", "ae2")
    client.publish("x", "nothing", mandatory=True)
    assert client.events() == []
    assert ch.queue_declare("q", passive=True)[1] == 1
    # An AE that cannot route (or does not exist) leaves the message unroutable.
    ch.queue_unbind("q", "ae2")
    client.publish("x", "k", mandatory=True)
    assert [type(e) for e in client.events()] == [Return]
    ch.exchange_declare("y", "direct", arguments={"alternate-exchange": "missing"})
    client.publish("y", "k", mandatory=True)
    (ret,) = client.events()
    assert isinstance(ret, Return)
    assert (ret.reply_code, ret.reply_text, ret.exchange, ret.routing_key) == (
        312,
        "NO_ROUTE",
        "y",
        "k",
    )


def test_internal_exchange(client: Client) -> None:
    ch = client.channel()
    ch.exchange_declare("int", "fanout", internal=True)
    ch.exchange_declare("pub", "fanout")
    ch.exchange_bind("int", "pub")
    ch.queue_declare("q")
    ch.queue_bind("q", "int")
    raises(
        403,
        f"ACCESS_REFUSED - cannot publish to internal exchange 'int' {V}",
        client.publish,
        "int",
        "",
    )
    client.publish("pub", "", channel_id=2)
    assert client.channel(2).queue_declare("q", passive=True)[1] == 1


def test_auto_delete_exchange(client: Client) -> None:
    ch = client.channel()
    ch.exchange_declare("ad", "fanout", auto_delete=True)
    ch.exchange_declare("ad2", "fanout", auto_delete=True)
    ch.queue_declare("q1")
    ch.queue_declare("q2")
    ch.queue_bind("q1", "ad")
    ch.queue_bind("q2", "ad")
    ch.queue_unbind("q1", "ad")
    assert "ad" in client.broker.snapshot().exchanges
    ch.queue_delete("q2")  # last binding removed through queue deletion
    snapshot = client.broker.snapshot()
    assert "ad" not in snapshot.exchanges
    assert "ad2" in snapshot.exchanges  # never bound: survives
    ch.exchange_declare("dst", "fanout")
    ch.exchange_bind("dst", "ad2")
    ch.exchange_delete("dst")  # removing the E2E binding deletes the source
    assert "ad2" not in client.broker.snapshot().exchanges


def test_headers_binding_validation(client: Client) -> None:
    ch = client.channel()
    ch.exchange_declare("h", "headers")
    ch.queue_declare("q")
    raises(
        406,
        'PRECONDITION_FAILED - Invalid x-match field value <<"foo">>; expected all, any, '
        "all-with-x, or any-with-x",
        ch.queue_bind,
        "q",
        "h",
        "",
        {"x-match": "foo"},
    )
    ch = client.channel(2)
    raises(
        406,
        "PRECONDITION_FAILED - Invalid x-match field type signedint (value 1); expected longstr",
        ch.queue_bind,
        "q",
        "h",
        "",
        {"x-match": 1},
    )


def test_headers_unbind_needs_exact_arguments(client: Client) -> None:
    ch = client.channel()
    ch.exchange_declare("h", "headers")
    ch.queue_declare("q")
    ch.queue_bind("q", "h", "", {"a": typed("I", 1)})
    ch.queue_unbind("q", "h", "", {"a": typed("l", 1)})  # different type: not the same binding
    client.publish("h", "", properties=Basic.Properties(headers={"a": 1}))
    assert ch.queue_declare("q", passive=True)[1] == 1
    ch.queue_unbind("q", "h", "", {"a": typed("I", 1)})
    assert client.broker.snapshot().exchanges["h"].bindings == ()


def test_channel_errors_are_not_connection_errors(broker: BrokerModel) -> None:
    err = AmqpError(403, "ACCESS_REFUSED - Login was refused", connection_error=True)
    assert err.is_connection_error
    assert not AmqpError(404, "NOT_FOUND - x").is_connection_error
    for code in (501, 503, 504, 505, 530, 540, 541):
        assert AmqpError(code, "X").is_connection_error


def test_auto_delete_cascades_through_e2e_chain(client: Client) -> None:
    ch = client.channel()
    ch.exchange_declare("top", "fanout", auto_delete=True)
    ch.exchange_declare("mid", "fanout", auto_delete=True)
    ch.queue_declare("q")
    ch.exchange_bind("mid", "top")
    ch.queue_bind("q", "mid")
    ch.queue_delete("q")  # mid loses its last binding, and with it top loses its own
    exchanges = client.broker.snapshot().exchanges
    assert "mid" not in exchanges
    assert "top" not in exchanges


def test_routing_per_exchange_type(client: Client) -> None:
    from pamqp.commands import Basic

    ch = client.channel()
    for name in ("d", "f", "t", "h"):
        ch.queue_declare(name)
    ch.queue_bind("d", "amq.direct", "key")
    ch.queue_bind("f", "amq.fanout", "ignored")
    ch.queue_bind("t", "amq.topic", "a.*.c")
    ch.queue_bind("h", "amq.headers", "", {"x-match": "any", "k": "v", "n": 1})
    client.publish("amq.direct", "key")
    client.publish("amq.direct", "KEY")
    client.publish("amq.fanout", "anything")
    client.publish("amq.topic", "a.b.c")
    client.publish("amq.topic", "a.b.b.c")
    client.publish("amq.headers", "x", properties=Basic.Properties(headers={"n": 1}))
    client.publish("amq.headers", "x", properties=Basic.Properties(headers={"k": "w"}))
    counts = {n: q.message_count for n, q in client.broker.snapshot().queues.items()}
    assert counts == {"d": 1, "f": 1, "t": 1, "h": 1}
