"""The message rewrite RabbitMQ 3.10 performs when it dead-letters.

Observed on RabbitMQ 3.10.8 (see NOTES.md): the ``x-death`` array gains an
entry at the front (or the entry for the same queue and reason gets its
``count`` incremented and moves to the front), the first death also adds
``x-first-death-*``, a dead-letter routing key removes the ``CC`` header, the
``expiration`` property is removed, and the whole headers table is re-sorted
by key. Every header value not touched keeps its original encoding.
"""

from __future__ import annotations

from .fieldtable import FieldValue, typed
from .message import Message, PropertySlot, RawProperties, find_header, without_header

__all__ = ["dead_letter_message", "is_cycle"]

Entries = list[tuple[bytes, FieldValue]]


def _death_info(
    reason: str,
    queue: str,
    exchange: str,
    routing_keys: list[str],
    time: int,
    expiration: bytes | None,
) -> Entries:
    info: Entries = [
        (b"reason", typed("S", reason)),
        (b"queue", typed("S", queue)),
        (b"time", typed("T", time)),
        (b"exchange", typed("S", exchange)),
        (b"routing-keys", typed("A", [typed("S", key) for key in routing_keys])),
    ]
    if expiration is not None:
        info.append((b"original-expiration", typed("S", expiration)))
    return info


def _table(entries: Entries) -> FieldValue:
    return typed("F", {k.decode("utf-8", "surrogateescape"): v for k, v in entries})


def _raw_table_entries(value: FieldValue) -> Entries:
    return [(k.encode("utf-8", "surrogateescape"), v) for k, v in value.value.items()]


def _sorted(entries: Entries) -> Entries:
    return sorted(entries, key=lambda kv: kv[0])


def _set(entries: Entries, key: bytes, value: FieldValue) -> Entries:
    # Erlang's lists:keystore: replace the first match in place, else append.
    for index, (name, _) in enumerate(entries):
        if name == key:
            return [*entries[:index], (key, value), *entries[index + 1 :]]
    return [*entries, (key, value)]


def _str_field(table: FieldValue, key: str) -> bytes | None:
    value = table.value.get(key)
    return bytes(value.value) if value is not None and value.tag == "S" else None


def _update_x_death(headers: Entries, info: Entries, queue: str, reason: str) -> Entries:
    existing = find_header(headers, b"x-death")
    if existing is None or existing.tag != "A":
        if existing is None:  # an x-death that is not an array is replaced, but counts
            headers = _set(headers, b"x-first-death-reason", typed("S", reason))
            headers = _set(headers, b"x-first-death-queue", typed("S", queue))
            headers = _set(headers, b"x-first-death-exchange", info[3][1])
        entry = _table([(b"count", typed("l", 1)), *info])
        return _set(headers, b"x-death", typed("A", [entry]))
    deaths = list(existing.value)
    match_index = next(
        (
            i
            for i, d in enumerate(deaths)
            if d.tag == "F"
            and _str_field(d, "queue") == queue.encode()
            and _str_field(d, "reason") == reason.encode()
        ),
        None,
    )
    if match_index is None:
        new_entry = _table(_sorted([(b"count", typed("l", 1)), *info]))
    else:
        old = _raw_table_entries(deaths.pop(match_index))
        count = find_header(old, b"count")
        if count is not None and count.tag in ("I", "l"):
            old = _set(old, b"count", typed(count.tag, count.value + 1))
        else:
            old = [(b"count", typed("l", 1)), *old]
        new_entry = _table(_sorted(old))
    return _set(headers, b"x-death", typed("A", [new_entry, *deaths]))


def dead_letter_message(
    message: Message,
    *,
    routing_keys: tuple[str, ...],
    queue: str,
    reason: str,
    dead_letter_exchange: str,
    dead_letter_routing_key: str | None,
    time: int,
) -> tuple[Message, tuple[str, ...], RawProperties]:
    """The message as republished to the DLX, the routing keys to route it with, and the
    view of its new property list.

    :param routing_keys: the keys the message was routed with (key, then CC and BCC).
    :param time: wall-clock seconds for the ``x-death`` ``time`` field.
    """
    view = RawProperties(message.raw_properties)
    props = view.edit()
    headers: Entries = list(view.header_entries() or ())
    expiration = props.shortstr(PropertySlot.EXPIRATION)
    # x-death's routing-keys: the publish key plus CC (BCC is gone by now).
    cc = find_header(headers, b"CC")
    cc_keys = (
        [bytes(v.value).decode("utf-8", "surrogateescape") for v in cc.value if v.tag == "S"]
        if cc is not None and cc.tag == "A"
        else []
    )
    death_keys = [routing_keys[0], *cc_keys]
    if dead_letter_routing_key is not None:
        new_keys: tuple[str, ...] = (dead_letter_routing_key,)
    else:
        new_keys = routing_keys
    info = _death_info(reason, queue, message.exchange, death_keys, time, expiration)
    headers = _update_x_death(headers, info, queue, reason)
    if dead_letter_routing_key is not None:
        headers = without_header(headers, b"CC")
    props.set_header_entries(_sorted(headers))
    props.set_shortstr(PropertySlot.EXPIRATION, None)
    dead = message.with_property_list(props, dead_letter_exchange, new_keys[0])
    return dead, new_keys, RawProperties(dead.raw_properties, props)


def is_cycle(queue: str, properties: RawProperties) -> bool:
    """RabbitMQ's dead-letter cycle rule: the queue is already in ``x-death`` with no
    ``rejected`` death since (inclusive), so the message would loop automatically.

    :param properties: the view of the dead-lettered message's property list
    """
    headers = properties.header_entries()
    deaths = find_header(headers, b"x-death")
    if deaths is None or deaths.tag != "A":
        return False
    cycle: list[FieldValue] = []
    for death in deaths.value:
        cycle.append(death)
        if death.tag == "F" and _str_field(death, "queue") == queue.encode():
            return all(d.tag == "F" and _str_field(d, "reason") != b"rejected" for d in cycle)
    return False
