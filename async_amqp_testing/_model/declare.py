"""exchange.* and queue.* operations, with RabbitMQ's checks and texts.

These are the vhost-level halves of the channel methods: declare with
equivalence checks, reserved names, exclusivity, bind/unbind, purge and
delete. The channel resolves the "last declared queue" shorthand and owns
the per-channel bits; everything here works on a `Vhost` and the calling
connection (for exclusive-queue ownership).
"""

from __future__ import annotations

import random
import string
from typing import TYPE_CHECKING

from .arguments import (
    assert_equivalent,
    exchange_alternate,
    inequivalent_flag,
    validate_queue_arguments,
)
from .errors import AmqpError, ReplyCode, access_refused, precondition_failed, resource_locked
from .exchange import Binding, DestinationKind, Exchange
from .fieldtable import Table
from .queue import Queue
from .queuetypes import QueueType, declared_type, server_named_refusal
from .quorum import QuorumQueue
from .routing import ExchangeType, parse_x_match
from .stream import StreamQueue

if TYPE_CHECKING:
    from .vhost import Vhost

__all__ = [
    "bind",
    "check_exclusive",
    "exchange_declare",
    "exchange_delete",
    "queue_declare",
    "queue_delete",
    "random_name",
    "unbind",
]

_NAME_CHARS = string.ascii_letters + string.digits + "-_"
DEFAULT_EXCHANGE_REFUSAL = "operation not permitted on the default exchange"


def random_name(rng: random.Random, prefix: str) -> str:
    """``prefix`` plus 22 characters of ``[A-Za-z0-9_-]`` (like RabbitMQ's base64 GUIDs)."""
    return prefix + "".join(rng.choice(_NAME_CHARS) for _ in range(22))


# RabbitMQ says "invalid" when the type name happens to be an existing Erlang atom and
# "unknown" otherwise; these are names observed to be atoms on RabbitMQ 3.10.8.
_ATOM_TYPE_NAMES = frozenset(
    {
        "foo", "badtype", "queue", "exchange", "ok", "error", "true", "false", "undefined",
        "local", "random", "match", "default", "system", "internal",
    }
)  # fmt: skip


def _unknown_type(type_name: str) -> AmqpError:
    adjective = "invalid" if type_name in _ATOM_TYPE_NAMES else "unknown"
    return AmqpError(
        ReplyCode.COMMAND_INVALID, f"COMMAND_INVALID - {adjective} exchange type '{type_name}'"
    )


def exchange_declare(
    vhost: Vhost,
    name: str,
    type_name: str,
    *,
    passive: bool,
    durable: bool,
    auto_delete: bool,
    internal: bool,
    arguments: Table,
) -> Exchange:
    """Declare (or check) an exchange.

    :raises AmqpError: 403 default exchange / reserved ``amq.`` prefix, 404 passive and
        missing, 406 inequivalent, 503 unknown type (connection error).
    """
    if passive:
        if name == "":
            raise access_refused(DEFAULT_EXCHANGE_REFUSAL)
        return vhost.exchange(name)
    # RabbitMQ checks the type before anything else, even for the default exchange.
    try:
        exchange_type = ExchangeType(type_name)
    except ValueError:
        raise _unknown_type(type_name) from None
    if name == "":
        raise access_refused(DEFAULT_EXCHANGE_REFUSAL)
    existing = vhost.exchanges.get(name)
    if existing is None:
        if name.startswith("amq."):
            raise access_refused(f"exchange name '{name}' contains reserved prefix 'amq.*'")
        alternate = exchange_alternate(arguments, name, vhost.name)
        exchange = Exchange(
            name,
            exchange_type,
            durable=durable,
            auto_delete=auto_delete,
            internal=internal,
            arguments=arguments,
            alternate=alternate,
        )
        vhost.exchanges[name] = exchange
        return exchange
    what = vhost.describe_exchange(name)
    if existing.type is not exchange_type:
        raise inequivalent_flag("type", what, type_name, existing.type.value)
    for flag, received, current in (
        ("durable", durable, existing.durable),
        ("auto_delete", auto_delete, existing.auto_delete),
        ("internal", internal, existing.internal),
    ):
        if received != current:
            raise inequivalent_flag(flag, what, received, current)
    assert_equivalent(existing.arguments, arguments, ("alternate-exchange",), what)
    return existing


def exchange_delete(vhost: Vhost, name: str, *, if_unused: bool) -> None:
    """Delete an exchange; a missing one is fine.

    :raises AmqpError: 403 default or system exchange, 406 ``in use``.
    """
    if name == "":
        raise access_refused(DEFAULT_EXCHANGE_REFUSAL)
    if name.startswith("amq."):  # refused by name, even when no such exchange exists
        raise access_refused(f"deletion of system {vhost.describe_exchange(name)} not allowed")
    exchange = vhost.exchanges.get(name)
    if exchange is None:
        return
    vhost.check_exchange_deletable(exchange, if_unused)
    vhost.delete_exchange(exchange)


def check_exclusive(vhost: Vhost, queue: Queue, connection: object) -> None:
    """Refuse access to another connection's exclusive queue.

    :raises AmqpError: 405 RESOURCE_LOCKED with RabbitMQ's long text.
    """
    if queue.exclusive_owner is not None and queue.exclusive_owner is not connection:
        raise _locked(vhost, queue.name)


def _locked(vhost: Vhost, name: str) -> AmqpError:
    return resource_locked(
        f"cannot obtain exclusive access to locked {vhost.describe_queue(name)}. It could be "
        "originally declared on another connection or the exclusive property value does not "
        "match that of the original declaration."
    )


def queue_declare(
    vhost: Vhost,
    connection: object,
    name: str,
    *,
    passive: bool,
    durable: bool,
    exclusive: bool,
    auto_delete: bool,
    arguments: Table,
    now: float,
    rng: random.Random,
) -> Queue:
    """Declare (or check) a queue; an empty name gets a server-generated one.

    :raises AmqpError: 403 reserved prefix, 404 passive and missing, 405 exclusive,
        406 inequivalent or invalid arguments, 540 unsupported queue types.
    """
    # Exclusive queues are never durable, whatever the declare says.
    durable = durable and not exclusive
    if passive:
        queue = vhost.queue(name)
        check_exclusive(vhost, queue, connection)
        queue.last_used = now
        return queue
    if name == "":
        queue_type = declared_type(arguments)
        if queue_type is not None and queue_type is not QueueType.CLASSIC:
            raise server_named_refusal(queue_type)
        name = random_name(rng, "amq.gen-")
        while name in vhost.queues:
            name = random_name(rng, "amq.gen-")
    elif name.startswith("amq."):
        raise access_refused(f"queue name '{name}' contains reserved prefix 'amq.*'")
    existing = vhost.queues.get(name)
    if existing is not None:
        _check_redeclare(vhost, existing, connection, durable, exclusive, auto_delete, arguments)
        existing.last_used = now
        return existing
    settings = validate_queue_arguments(
        arguments, name, vhost.name, durable, exclusive=exclusive, auto_delete=auto_delete
    )
    queue = _QUEUE_CLASSES[settings.queue_type](
        vhost,
        name,
        durable=durable,
        exclusive_owner=connection if exclusive else None,
        auto_delete=auto_delete,
        arguments=arguments,
        settings=settings,
        now=now,
    )
    vhost.queues[name] = queue
    return queue


def _check_redeclare(
    vhost: Vhost,
    existing: Queue,
    connection: object,
    durable: bool,
    exclusive: bool,
    auto_delete: bool,
    arguments: Table,
) -> None:
    """Exclusivity, flags and arguments of a redeclare, in RabbitMQ's order.

    :raises AmqpError: 405 exclusive, 406 inequivalent.
    """
    check_exclusive(vhost, existing, connection)
    if (existing.exclusive_owner is not None) != exclusive:
        raise _locked(vhost, existing.name)
    what = vhost.describe_queue(existing.name)
    for flag, received, current in (
        ("durable", durable, existing.durable),
        ("auto_delete", auto_delete, existing.auto_delete),
    ):
        if received != current:
            raise inequivalent_flag(flag, what, received, current)
    assert_equivalent(existing.arguments, arguments, existing.equivalence_keys, what)


_QUEUE_CLASSES: dict[QueueType, type[Queue]] = {
    QueueType.CLASSIC: Queue,
    QueueType.QUORUM: QuorumQueue,
    QueueType.STREAM: StreamQueue,
}


def queue_delete(
    vhost: Vhost, connection: object, name: str, *, if_unused: bool, if_empty: bool
) -> int:
    """Delete a queue; returns its ready message count (0 when it does not exist).

    :raises AmqpError: 405 exclusive, 406 ``in use`` / ``not empty``.
    """
    queue = vhost.queues.get(name)
    if queue is None:
        return 0
    check_exclusive(vhost, queue, connection)
    queue.check_delete(if_unused=if_unused, if_empty=if_empty)
    if if_unused and queue.consumers:
        raise precondition_failed(f"{vhost.describe_queue(name)} in use")
    if if_empty and queue.message_count:
        raise precondition_failed(f"{vhost.describe_queue(name)} not empty")
    return vhost.delete_queue(queue)


def _binding(
    vhost: Vhost,
    kind: DestinationKind,
    destination: str,
    source: str,
    routing_key: str,
    arguments: Table,
) -> Binding:
    return Binding.create(source, kind, destination, routing_key, arguments)


def bind(
    vhost: Vhost,
    connection: object,
    kind: DestinationKind,
    destination: str,
    source: str,
    routing_key: str,
    arguments: Table,
) -> None:
    """queue.bind / exchange.bind.

    :raises AmqpError: 403 default exchange, 404 missing source or destination (source
        reported first), 405 exclusive queue, 406 bad ``x-match`` on a headers exchange.
    """
    if source == "" or (kind is DestinationKind.EXCHANGE and destination == ""):
        raise access_refused(DEFAULT_EXCHANGE_REFUSAL)
    source_exchange = vhost.exchange(source)
    if kind is DestinationKind.QUEUE:
        check_exclusive(vhost, vhost.queue(destination), connection)
    else:
        vhost.exchange(destination)
    if source_exchange.type is ExchangeType.HEADERS:
        parse_x_match(arguments)
    vhost.add_binding(_binding(vhost, kind, destination, source, routing_key, arguments))


def unbind(
    vhost: Vhost,
    connection: object,
    kind: DestinationKind,
    destination: str,
    source: str,
    routing_key: str,
    arguments: Table,
) -> None:
    """queue.unbind / exchange.unbind; a missing binding, queue or exchange is fine.

    Another connection's exclusive queue is refused only when the binding exists (RabbitMQ
    checks exclusivity after finding the binding).

    :raises AmqpError: 403 default exchange, 405 exclusive queue.
    """
    if source == "" or (kind is DestinationKind.EXCHANGE and destination == ""):
        raise access_refused(DEFAULT_EXCHANGE_REFUSAL)
    binding = _binding(vhost, kind, destination, source, routing_key, arguments)
    exchange = vhost.exchanges.get(source)
    if exchange is None or binding not in exchange.bindings:
        return
    if kind is DestinationKind.QUEUE:
        queue = vhost.queues.get(destination)
        if queue is not None:
            check_exclusive(vhost, queue, connection)
    vhost.remove_binding(binding)
