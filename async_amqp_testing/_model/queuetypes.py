"""The queue-type seam: which queue class a declare creates, and its type's rules.

RabbitMQ 3.10 has three queue types behind ``x-queue-type``: classic (the default),
quorum and stream. Each refuses some arguments (``invalid arg 'K' for queue 'Q' in
vhost '/' of queue type rabbit_<type>_queue``), validates its own, and the
replicated types refuse server-named, auto-delete, exclusive and non-durable queues.
The observed precedence (NOTES.md): server-named first (declare.py), then the
generic argument checks (arguments.py), then the type's refused arguments, its own
argument checks, and last the properties auto-delete, exclusive-owner, non-durable.
The queue classes themselves live in queue.py (classic), quorum.py and stream.py.
"""

from __future__ import annotations

import re
from enum import Enum

from .errors import AmqpError, internal_error, precondition_failed
from .fieldtable import BINARY_TAGS, FieldValue, Table, typed
from .message import Message, RawProperties

__all__ = [
    "QueueType",
    "declared_type",
    "long_value",
    "parse_interval_ms",
    "server_named_refusal",
    "validate_type_arguments",
    "validate_type_properties",
    "with_sorted_header",
]


class QueueType(Enum):
    """``x-queue-type`` values and RabbitMQ's module name for each (used in texts)."""

    CLASSIC = "classic"
    QUORUM = "quorum"
    STREAM = "stream"

    @property
    def module(self) -> str:
        """``rabbit_classic_queue``, ``rabbit_quorum_queue`` or ``rabbit_stream_queue``."""
        return f"rabbit_{self.value}_queue"


def declared_type(arguments: Table) -> QueueType | None:
    """The queue type a declare asks for; None when ``x-queue-type`` is not a known type."""
    value = arguments.get("x-queue-type")
    if value is None:
        return QueueType.CLASSIC
    if value.tag not in BINARY_TAGS:
        return None
    try:
        return QueueType(bytes(value.value).decode("utf-8", "replace"))
    except ValueError:
        return None


def server_named_refusal(queue_type: QueueType) -> AmqpError:
    """406 for ``queue.declare`` with an empty name of a replicated type."""
    return precondition_failed(f"Cannot declare a server-named queue for type {queue_type.module}")


# The arguments each replicated type accepts (RabbitMQ 3.10.8, observed); unknown
# x-arguments are ignored by every type, known ones outside this set are refused.
_KNOWN = frozenset(
    {
        "x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
        "x-max-length", "x-max-length-bytes", "x-max-in-memory-length", "x-max-in-memory-bytes",
        "x-max-priority", "x-overflow", "x-queue-mode", "x-queue-version",
        "x-single-active-consumer", "x-queue-master-locator", "x-quorum-initial-group-size",
        "x-max-age", "x-stream-max-segment-size-bytes", "x-initial-cluster-size",
        "x-queue-leader-locator", "x-dead-letter-strategy", "x-delivery-limit",
    }
)  # fmt: skip
_ACCEPTED = {
    QueueType.QUORUM: frozenset(
        {
            "x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
            "x-max-length", "x-max-length-bytes", "x-max-in-memory-length",
            "x-max-in-memory-bytes", "x-overflow", "x-single-active-consumer",
            "x-quorum-initial-group-size", "x-queue-leader-locator", "x-dead-letter-strategy",
            "x-delivery-limit",
        }
    ),
    QueueType.STREAM: frozenset(
        {
            "x-max-length-bytes", "x-max-age", "x-stream-max-segment-size-bytes",
            "x-initial-cluster-size", "x-queue-leader-locator",
        }
    ),
}  # fmt: skip
_LEADER_LOCATORS = frozenset({b"client-local", b"balanced", b"random", b"least-leaders"})
_DEAD_LETTER_STRATEGIES = frozenset({b"at-most-once", b"at-least-once"})
_INTERVAL = re.compile(rb"([0-9]*)(.*)", re.DOTALL)
_UNIT_MS = {b"Y": 365 * 86400000, b"M": 30 * 86400000, b"D": 86400000, b"h": 3600000}
_UNIT_MS.update({b"m": 60000, b"s": 1000})


def parse_interval_ms(text: bytes) -> int | None:
    """``x-max-age`` / ``x-stream-offset`` intervals (``7D``, ``10m``) in ms; None if invalid.

    :raises AmqpError: 541 when there is no number at all (RabbitMQ's parser crashes).
    """
    match = _INTERVAL.fullmatch(text)
    assert match is not None
    digits, unit = match.groups()
    if not digits:
        raise internal_error()
    if int(digits) <= 0 or unit not in _UNIT_MS:
        return None
    return int(digits) * _UNIT_MS[unit]


def _invalid(key: str, what: str, reason: str) -> AmqpError:
    return precondition_failed(f"invalid arg '{key}' for {what}: {reason}")


def _string(arguments: Table, key: str, what: str) -> bytes | None:
    value = arguments.get(key)
    if value is None:
        return None
    if value.tag not in BINARY_TAGS:
        raise _invalid(key, what, f"{{unacceptable_type,{value.type_name}}}")
    return bytes(value.value)


def _validate_stream(arguments: Table, what: str) -> None:
    max_age = _string(arguments, "x-max-age", what)
    if max_age is not None and parse_interval_ms(max_age) is None:
        raise _invalid("x-max-age", what, "invalid_max_age")
    segment = arguments.get("x-stream-max-segment-size-bytes")
    if segment is not None:
        if not segment.is_integer:
            raise _invalid(
                "x-stream-max-segment-size-bytes",
                what,
                f'"expected integer, got {segment.type_name}"',
            )
        if int(segment.value) < 0:
            raise _invalid(
                "x-stream-max-segment-size-bytes", what, f"{{value_negative,{segment.value}}}"
            )


def _refuse_others(queue_type: QueueType, arguments: Table, what: str) -> None:
    for key in arguments:
        if key in _KNOWN and key not in _ACCEPTED[queue_type]:
            raise precondition_failed(
                f"invalid arg '{key}' for {what} of queue type {queue_type.module}"
            )


def validate_type_arguments(queue_type: QueueType, arguments: Table, what: str) -> None:
    """A quorum queue's or stream's own argument checks and refusals of other types' ones.

    A stream runs these before the generic checks, a quorum queue after them (observed).

    :raises AmqpError: 406 with RabbitMQ's texts, in its order; 541 where it crashes.
    """
    if queue_type is QueueType.STREAM:
        # A stream validates its retention arguments before refusing others.
        _validate_stream(arguments, what)
    _refuse_others(queue_type, arguments, what)
    if queue_type is QueueType.QUORUM:
        strategy = _string(arguments, "x-dead-letter-strategy", what)
        if strategy is not None and strategy not in _DEAD_LETTER_STRATEGIES:
            raise _invalid("x-dead-letter-strategy", what, "invalid_dlx_strategy")
    locator = _string(arguments, "x-queue-leader-locator", what)
    if locator is not None and locator not in _LEADER_LOCATORS:
        raise _invalid("x-queue-leader-locator", what, "invalid_queue_locator_arg")


def validate_type_properties(
    what: str, *, durable: bool, exclusive: bool, auto_delete: bool
) -> None:
    """A replicated queue must be durable, not exclusive, not auto-delete (checked last).

    :raises AmqpError: 406 ``invalid property 'auto-delete'`` (first),
        ``'exclusive-owner'``, ``'non-durable'``.
    """
    for refused, name in ((auto_delete, "auto-delete"), (exclusive, "exclusive-owner")):
        if refused:
            raise precondition_failed(f"invalid property '{name}' for {what}")
    if not durable:
        raise precondition_failed(f"invalid property 'non-durable' for {what}")


def with_sorted_header(
    message: Message, key: bytes, value: FieldValue, properties: RawProperties | None = None
) -> Message:
    """The message with header ``key`` set and the headers table sorted by key.

    Quorum queues (``x-delivery-count``) and streams (``x-stream-offset``) deliver
    their messages this way (observed: the publisher's header order is not kept).

    :param properties: the view of ``message.raw_properties``, if the caller has one
    """
    view = properties if properties is not None else RawProperties(message.raw_properties)
    props = view.edit()
    entries = [(k, v) for k, v in view.header_entries() or () if k != key]
    entries.append((key, value))
    props.set_header_entries(sorted(entries, key=lambda entry: entry[0]))
    return message.with_property_list(props, message.exchange, message.routing_key)


def long_value(number: int) -> FieldValue:
    """A signed 64-bit field value (``l``), the type of both headers above."""
    return typed("l", number)
