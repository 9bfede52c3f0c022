"""Typed arguments extracted from method payloads agree with pamqp's framing."""

from __future__ import annotations

import pytest
from pamqp import base, frame
from pamqp.commands import Basic, Exchange, Queue
from pamqp.common import FieldTable

from async_amqp._core.methods import method_arguments

ARGS: FieldTable = {"x-message-ttl": 1000, "name": "v", "flag": True}


@pytest.mark.parametrize(
    "method",
    [
        Exchange.Declare(exchange="x", exchange_type="topic", durable=True, arguments=ARGS),
        Exchange.Bind(destination="d", source="s", routing_key="k", arguments=ARGS),
        Exchange.Unbind(destination="d", source="s", routing_key="k", arguments=ARGS),
        Queue.Declare(queue="q", exclusive=True, arguments=ARGS),
        Queue.Bind(queue="q", exchange="x", routing_key="k", arguments=ARGS),
        Queue.Unbind(queue="q", exchange="x", routing_key="k", arguments=ARGS),
        Basic.Consume(queue="q", consumer_tag="t", arguments=ARGS),
    ],
)
def test_arguments_found_after_the_other_fields(method: base.Frame) -> None:
    payload = frame.marshal(method, 1)[7:-1]
    table = method_arguments(payload)
    assert table is not None
    assert {k: v.value for k, v in table.items()} == {
        "x-message-ttl": 1000,
        "name": b"v",
        "flag": True,
    }
    assert table["x-message-ttl"].type_name == "short"  # pamqp picks the smallest type


def test_methods_without_arguments() -> None:
    payload = frame.marshal(Queue.Delete(queue="q"), 1)[7:-1]
    assert method_arguments(payload) is None
