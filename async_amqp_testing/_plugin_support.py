"""Helpers of the pytest plugin: which tests run on anyio, and the failure report section.

Kept apart from :mod:`async_amqp_testing.pytest_plugin` (which holds only the
hooks and fixtures) so each part stays small.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any, Protocol

import pytest

from ._model.snapshots import ConnectionInfo, QueueInfo

__all__ = ["BROKER_FIXTURES", "claims_for_anyio", "describe_state"]

#: The fixtures that make an ``async def`` test run under anyio with no configuration.
BROKER_FIXTURES = frozenset(
    {
        "fake_broker",
        "fake_broker_tls",
        "fake_broker_mtls",
        "fake_broker_module",
        "fake_broker_session",
    }
)


class _Inspectable(Protocol):
    def queues(self, vhost: str = "/") -> dict[str, QueueInfo]: ...
    def connections(self) -> list[ConnectionInfo]: ...


def _asyncio_auto_mode(config: pytest.Config) -> bool:
    """True when pytest-asyncio is installed and claims every async test (auto mode)."""
    option = config.getoption("asyncio_mode", None)
    if option is None:
        try:
            option = config.getini("asyncio_mode")
        except ValueError:  # pytest-asyncio is not installed
            return False
    return str(option) == "auto"


def _marker_names(markers: Iterable[Any]) -> set[str]:
    return {getattr(marker, "name", "") for marker in markers}


def _requested_fixtures(obj: Any, markers: Iterable[Any]) -> set[str]:
    names = set(inspect.signature(obj).parameters)
    for marker in markers:
        if getattr(marker, "name", "") == "usefixtures":
            names.update(str(arg) for arg in marker.args)
    return names


def claims_for_anyio(collector: pytest.Module | pytest.Class, name: str, obj: object) -> bool:
    """Whether an ``async def`` test asking for a broker fixture should run under anyio.

    True for a coroutine test function that requests one of :data:`BROKER_FIXTURES`
    by argument or ``usefixtures``,
    unless pytest-asyncio owns it (an ``asyncio`` marker, or its auto mode).
    """
    if not collector.istestfunction(obj, name):
        return False
    inner = getattr(getattr(obj, "hypothesis", None), "inner_test", obj)
    if not inspect.iscoroutinefunction(inner):
        return False
    own_markers = list(getattr(obj, "pytestmark", ()))
    inherited = list(collector.iter_markers())
    if "asyncio" in _marker_names(own_markers + inherited):
        return False
    if not BROKER_FIXTURES & _requested_fixtures(inner, own_markers + inherited):
        return False
    return not _asyncio_auto_mode(collector.config)


def describe_state(broker: _Inspectable, vhost: str = "/") -> str:
    """The broker's state in a few lines: queues (ready, unacked, consumers), connections.

    :param broker: a :class:`FakeBroker` or :class:`BlockingFakeBroker`
    :param vhost: the vhost to describe
    """
    queues = broker.queues(vhost)
    lines = [f"vhost {vhost!r}: {len(queues)} queue(s)"]
    for queue in queues.values():
        consumers = ", ".join(consumer.consumer_tag for consumer in queue.consumers) or "none"
        lines.append(
            f"  queue {queue.name!r}: {len(queue.messages)} ready, "
            f"{queue.unacked_count} unacked, consumers: {consumers}"
        )
        for message in queue.messages[:3]:
            lines.append(f"    ready: {_abbreviate(message.body)}")
        if len(queue.messages) > 3:
            lines.append(f"    … and {len(queue.messages) - 3} more")
    connections = broker.connections()
    lines.append(f"{len(connections)} open connection(s)")
    for connection in connections:
        name = connection.client_properties.get("connection_name")
        label = f" {name!r}" if name else ""
        lines.append(
            f"  connection {connection.connection_id}{label} user={connection.user!r} "
            f"vhost={connection.vhost!r} channels={len(connection.channels)}"
        )
    return "\n".join(lines)


def _abbreviate(body: bytes, limit: int = 60) -> str:
    text = repr(body[:limit])
    return text + f"… ({len(body)} bytes)" if len(body) > limit else text
