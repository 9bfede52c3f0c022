"""Queue, exchange and consumer argument validation and equivalence.

RabbitMQ validates ``x-`` arguments only when it creates a queue, compares a
fixed list of them on redeclare (integer types are interchangeable, longstr
and binary too), and words every refusal in its own way; this module keeps
those rules and texts in one place and turns accepted arguments into typed
`QueueSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .errors import AmqpError, internal_error, not_implemented, precondition_failed
from .fieldtable import BINARY_TAGS, FLOAT_TAGS, INTEGER_TAGS, FieldValue, Table, format_value
from .message import MAX_EXPIRY_MS
from .queuetypes import (
    QueueType,
    declared_type,
    validate_type_arguments,
    validate_type_properties,
)

__all__ = [
    "Overflow",
    "QueueSettings",
    "assert_equivalent",
    "consumer_priority",
    "exchange_alternate",
    "validate_queue_arguments",
]


class Overflow(Enum):
    """x-overflow behaviours."""

    DROP_HEAD = "drop-head"
    REJECT_PUBLISH = "reject-publish"
    REJECT_PUBLISH_DLX = "reject-publish-dlx"


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """The effective, validated queue arguments."""

    message_ttl: int | None = None
    expires: int | None = None
    max_length: int | None = None
    max_length_bytes: int | None = None
    overflow: Overflow = Overflow.DROP_HEAD
    dead_letter_exchange: str | None = None
    dead_letter_routing_key: str | None = None
    max_priority: int | None = None
    single_active_consumer: bool = False
    queue_type: QueueType = QueueType.CLASSIC
    delivery_limit: int | None = None


# The arguments RabbitMQ 3.10 compares on redeclare, in its order.
EQUIVALENCE_KEYS = (
    "x-expires",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-in-memory-length",
    "x-max-in-memory-bytes",
    "x-max-priority",
    "x-overflow",
    "x-queue-mode",
    "x-queue-version",
    "x-single-active-consumer",
    "x-queue-type",
    "x-queue-master-locator",
    "x-quorum-initial-group-size",
    "x-max-age",
    "x-stream-max-segment-size-bytes",
    "x-initial-cluster-size",
    "x-queue-leader-locator",
)

# Arguments of quorum/stream queues that RabbitMQ refuses on classic queues.
_OTHER_TYPE_KEYS = frozenset(
    {
        "x-max-in-memory-length",
        "x-max-in-memory-bytes",
        "x-dead-letter-strategy",
        "x-delivery-limit",
        "x-quorum-initial-group-size",
        "x-initial-cluster-size",
        "x-max-age",
        "x-stream-max-segment-size-bytes",
        "x-queue-leader-locator",
    }
)
_MASTER_LOCATORS = frozenset({b"min-masters", b"client-local", b"random"})


def _type_class(tag: str) -> str:
    if tag in INTEGER_TAGS:
        return "int"
    if tag in FLOAT_TAGS:
        return "float"
    if tag in BINARY_TAGS:
        return "binary"
    return tag


def _equivalent(a: FieldValue, b: FieldValue) -> bool:
    return _type_class(a.tag) == _type_class(b.tag) and a.value == b.value


def assert_equivalent(current: Table, received: Table, keys: tuple[str, ...], what: str) -> None:
    """Compare the listed arguments of an existing entity with a redeclare.

    :param what: ``queue 'Q' in vhost '/'`` or ``exchange 'X' in vhost '/'``.
    :raises AmqpError: 406 ``inequivalent arg`` in RabbitMQ's wording.
    """
    for key in keys:
        old, new = current.get(key), received.get(key)
        if key == "x-queue-type" and _implicitly_classic(old, new):
            continue
        if old is None and new is None:
            continue
        if old is not None and new is not None:
            if _equivalent(old, new):
                continue
            detail = f"received '{format_value(new)}' but current is '{format_value(old)}'"
        elif old is None:
            assert new is not None
            detail = (
                f"received the value '{format_value(new)}' of type '{new.type_name}' "
                "but current is none"
            )
        else:
            detail = (
                f"received none but current is the value '{format_value(old)}' "
                f"of type '{old.type_name}'"
            )
        raise precondition_failed(f"inequivalent arg '{key}' for {what}: {detail}")


def _implicitly_classic(old: FieldValue | None, new: FieldValue | None) -> bool:
    # A classic queue equals one declared without a type (but 'classic' vs 'quorum' is
    # reported with both values).
    values = {None if v is None else bytes(v.value) for v in (old, new)}
    return values <= {None, b"classic"}


def inequivalent_flag(name: str, what: str, received: object, current: object) -> AmqpError:
    """406 for a mismatching flag (``durable``, ``type`` …), booleans printed as true/false."""

    def show(value: object) -> str:
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    return precondition_failed(
        f"inequivalent arg '{name}' for {what}: received '{show(received)}' "
        f"but current is '{show(current)}'"
    )


class ArgCheck:
    """Validation of one queue's arguments, producing RabbitMQ's texts."""

    def __init__(self, arguments: Table, what: str) -> None:
        self.arguments = arguments
        self.what = what

    def invalid(self, key: str, reason: str) -> AmqpError:
        return precondition_failed(f"invalid arg '{key}' for {self.what}: {reason}")

    def integer(self, key: str) -> int | None:
        value = self.arguments.get(key)
        if value is None:
            return None
        if not value.is_integer:
            raise self.invalid(key, f'"expected integer, got {value.type_name}"')
        return int(value.value)

    def non_negative(self, key: str) -> int | None:
        number = self.integer(key)
        if number is not None and number < 0:
            raise self.invalid(key, f"{{value_negative,{number}}}")
        return number

    def ttl(self, key: str, zero_allowed: bool) -> int | None:
        number = self.non_negative(key)
        if number is None:
            return None
        if number == 0 and not zero_allowed:
            raise self.invalid(key, "{value_zero,0}")
        if number > MAX_EXPIRY_MS:
            raise self.invalid(key, f"{{value_too_large,{number}}}")
        return number

    def string(self, key: str) -> bytes | None:
        value = self.arguments.get(key)
        if value is None:
            return None
        if value.tag not in BINARY_TAGS:
            raise self.invalid(key, f"{{unacceptable_type,{value.type_name}}}")
        return bytes(value.value)


def validate_queue_arguments(
    arguments: Table,
    name: str,
    vhost: str,
    durable: bool,
    *,
    exclusive: bool = False,
    auto_delete: bool = False,
) -> QueueSettings:
    """Validate a new queue's arguments (and a replicated type's properties) like RabbitMQ 3.10.

    :raises AmqpError: 406 with RabbitMQ's text; 541 where RabbitMQ itself crashes.
    """
    what = f"queue '{name}' in vhost '{vhost}'"
    check = ArgCheck(arguments, what)
    # The DLX type is checked by the channel before the queue-type validation runs.
    dlx_value = arguments.get("x-dead-letter-exchange")
    if dlx_value is not None and dlx_value.tag not in BINARY_TAGS:
        raise precondition_failed(
            f"invalid type '{dlx_value.type_name}' for arg 'x-dead-letter-exchange' in {what}"
        )
    if declared_type(arguments) is QueueType.STREAM:
        # A stream refuses other types' arguments before any generic check (observed).
        validate_type_arguments(QueueType.STREAM, arguments, what)
    expires = check.ttl("x-expires", zero_allowed=False)
    message_ttl = check.ttl("x-message-ttl", zero_allowed=True)
    dlrk = check.string("x-dead-letter-routing-key")
    if dlrk is not None and dlx_value is None:
        raise check.invalid("x-dead-letter-routing-key", "routing_key_but_no_dlx_defined")
    max_length = check.non_negative("x-max-length")
    max_length_bytes = check.non_negative("x-max-length-bytes")
    max_priority = check.non_negative("x-max-priority")
    if max_priority is not None and max_priority > 255:
        raise check.invalid("x-max-priority", f"{{max_value_exceeded,{max_priority}}}")
    overflow = _overflow(check)
    _check_mode_and_version(check)
    sac_value = arguments.get("x-single-active-consumer")
    if sac_value is not None and sac_value.tag != "t":
        raise check.invalid(
            "x-single-active-consumer", f"{{unacceptable_type,{sac_value.type_name}}}"
        )
    kind = _queue_kind(check)
    overflow = _type_rules(kind, arguments, what, overflow, (durable, exclusive, auto_delete))
    return QueueSettings(
        message_ttl=message_ttl,
        expires=expires,
        max_length=max_length,
        max_length_bytes=max_length_bytes,
        overflow=overflow,
        dead_letter_exchange=(
            None if dlx_value is None else bytes(dlx_value.value).decode("utf-8", "replace")
        ),
        dead_letter_routing_key=None if dlrk is None else dlrk.decode("utf-8", "replace"),
        max_priority=max_priority,
        single_active_consumer=bool(sac_value.value) if sac_value is not None else False,
        queue_type=kind,
        delivery_limit=_delivery_limit(arguments),
    )


def _overflow(check: ArgCheck) -> Overflow:
    """``x-overflow`` (drop-head when absent)."""
    overflow_raw = check.string("x-overflow")
    if overflow_raw is None:
        return Overflow.DROP_HEAD
    try:
        return Overflow(overflow_raw.decode("utf-8", "replace"))
    except ValueError:
        raise check.invalid("x-overflow", "invalid_overflow") from None


def _check_mode_and_version(check: ArgCheck) -> None:
    """``x-queue-mode`` and ``x-queue-version``: accepted values only (no effect here)."""
    mode = check.string("x-queue-mode")
    if mode is not None and mode not in (b"default", b"lazy"):
        raise check.invalid("x-queue-mode", f"\"unsupported queue mode '{mode.decode()}'\"")
    version = check.integer("x-queue-version")
    if version is not None and version not in (1, 2):
        raise check.invalid("x-queue-version", f"\"unsupported queue version '{version}'\"")


def _queue_kind(check: ArgCheck) -> QueueType:
    """``x-queue-type`` (classic when absent), then ``x-queue-master-locator``."""
    queue_type = check.string("x-queue-type")
    if queue_type is not None and queue_type not in (b"classic", b"quorum", b"stream"):
        raise check.invalid("x-queue-type", f"\"unsupported queue type '{queue_type.decode()}'\"")
    locator = check.string("x-queue-master-locator")
    if locator is not None and locator not in _MASTER_LOCATORS:
        raise internal_error()
    return QueueType(queue_type.decode()) if queue_type is not None else QueueType.CLASSIC


def _type_rules(
    kind: QueueType,
    arguments: Table,
    what: str,
    overflow: Overflow,
    flags: tuple[bool, bool, bool],
) -> Overflow:
    """The queue type's checks after the generic ones; returns the effective overflow."""
    if kind is QueueType.CLASSIC:
        for key in arguments:
            if key in _OTHER_TYPE_KEYS:
                raise precondition_failed(
                    f"invalid arg '{key}' for {what} of queue type rabbit_classic_queue"
                )
        return overflow
    if kind is QueueType.QUORUM:
        validate_type_arguments(kind, arguments, what)
    durable, exclusive, auto_delete = flags
    validate_type_properties(what, durable=durable, exclusive=exclusive, auto_delete=auto_delete)
    if kind is QueueType.QUORUM and overflow is Overflow.REJECT_PUBLISH_DLX:
        # Accepted, but a 3.10 quorum queue then behaves as drop-head (observed).
        return Overflow.DROP_HEAD
    return overflow


def _delivery_limit(arguments: Table) -> int | None:
    # RabbitMQ 3.10 does not validate x-delivery-limit: a non-integer means no limit.
    value = arguments.get("x-delivery-limit")
    return int(value.value) if value is not None and value.is_integer else None


def exchange_alternate(arguments: Table, name: str, vhost: str) -> str | None:
    """The ``alternate-exchange`` argument of a new exchange.

    :raises AmqpError: 406 ``invalid type`` when it is not a string.
    """
    value = arguments.get("alternate-exchange")
    if value is None:
        return None
    if value.tag not in BINARY_TAGS:
        raise precondition_failed(
            f"invalid type '{value.type_name}' for arg 'alternate-exchange' in "
            f"exchange '{name}' in vhost '{vhost}'"
        )
    return bytes(value.value).decode("utf-8", "replace")


def consumer_priority(
    arguments: Table, queue: str, vhost: str, queue_type: QueueType = QueueType.CLASSIC
) -> int:
    """Validate basic.consume arguments and return the consumer priority.

    :raises AmqpError: 406 for a bad ``x-priority`` or ``x-cancel-on-ha-failover``; 540 for
        ``x-credit`` (credit flow the fake broker does not implement).
    """
    check = ArgCheck(arguments, f"queue '{queue}' in vhost '{vhost}'")
    priority = check.integer("x-priority")
    failover = arguments.get("x-cancel-on-ha-failover")
    if failover is not None and failover.tag != "t":
        raise check.invalid(
            "x-cancel-on-ha-failover", f"{{unacceptable_type,{failover.type_name}}}"
        )
    if "x-stream-offset" in arguments:
        raise precondition_failed(
            f"invalid arg 'x-stream-offset' for {check.what} of queue type {queue_type.module}"
        )
    if "x-credit" in arguments:
        raise not_implemented("consumer argument x-credit (credit flow) is not supported")
    return 0 if priority is None else priority
