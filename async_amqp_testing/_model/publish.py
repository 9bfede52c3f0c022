"""basic.publish checks and the message rewrites done at publish time.

RabbitMQ refuses some publishes before routing them (property checks, size)
and rewrites others (BCC is stripped when the message is created, direct
reply-to rewrites ``reply_to``). Keeping these rules apart from the channel
keeps the channel about per-channel state.
"""

from __future__ import annotations

from dataclasses import dataclass

from async_amqp._core.rawprops import property_flag

from .errors import internal_error, precondition_failed
from .fieldtable import FieldTableError, FieldValue
from .message import (
    Message,
    PropertySlot,
    RawProperties,
    find_header,
    header_routes,
    parse_expiration,
    without_header,
)

__all__ = [
    "MAX_MESSAGE_SIZE",
    "REPLY_PREFIX",
    "REPLY_QUEUE",
    "PreparedPublish",
    "prepare_publish",
    "with_reply_to",
]

REPLY_QUEUE = "amq.rabbitmq.reply-to"
REPLY_PREFIX = "amq.rabbitmq.reply-to."
# RabbitMQ 3.10's default max_message_size.
MAX_MESSAGE_SIZE = 134_217_728


#: The properties a publish's checks and rewrites read, besides ``reply_to``: a list
#: with none of them (an RPC reply: a correlation id, a content type...) only needs
#: its ``reply_to`` looked at, and only if the flags word says it is there.
_CHECKED = (
    property_flag(PropertySlot.HEADERS)
    | property_flag(PropertySlot.DELIVERY_MODE)
    | property_flag(PropertySlot.EXPIRATION)
    | property_flag(PropertySlot.USER_ID)
)
_REPLY_TO = property_flag(PropertySlot.REPLY_TO)
_REPLY_QUEUE = REPLY_QUEUE.encode()


@dataclass(slots=True)
class PreparedPublish:
    """A publish that passed the checks: the message to store, its routing keys, and the
    view of its property list (parsed at most once, shared by the routing and the queues)."""

    message: Message
    routing_keys: tuple[str, ...]
    wants_reply: bool
    headers: list[tuple[bytes, FieldValue]] | None
    properties: RawProperties


def prepare_publish(
    message: Message, username: str, properties: RawProperties | None = None
) -> PreparedPublish:
    """Check a publish's properties and strip BCC, as RabbitMQ does before routing.

    :param properties: the core's view of ``message.raw_properties`` (made here if not
        given): the property list is parsed only if some rule reads a property, once.

    :raises AmqpError: 406 for size, ``user_id``, ``expiration``, ``delivery_mode`` and
        CC/BCC type violations, with RabbitMQ's texts; 541 when the property list or its
        headers cannot be parsed (RabbitMQ's answer to e.g. the spec-only ``U`` tag).
    """
    if len(message.body) > MAX_MESSAGE_SIZE:
        raise precondition_failed(
            f"message size {len(message.body)} is larger than configured max size "
            f"{MAX_MESSAGE_SIZE}"
        )
    props = properties if properties is not None else RawProperties(message.raw_properties)
    if props.empty:  # nothing to check or strip
        return PreparedPublish(message, (message.routing_key,), False, None, props)
    flags = props.flags
    if not flags & _CHECKED:  # nothing to check or strip; maybe a direct reply-to
        wants_reply = (
            bool(flags & _REPLY_TO) and props.shortstr(PropertySlot.REPLY_TO) == _REPLY_QUEUE
        )
        return PreparedPublish(message, (message.routing_key,), wants_reply, None, props)
    try:
        headers = props.header_entries()
    except (ValueError, IndexError, FieldTableError):
        raise internal_error() from None
    user_id = props.shortstr(PropertySlot.USER_ID)
    if user_id is not None and user_id != username.encode():
        raise precondition_failed(
            f"user_id property set to '{user_id.decode('utf-8', 'replace')}' but "
            f"authenticated user was '{username}'"
        )
    expiration = props.shortstr(PropertySlot.EXPIRATION)
    if expiration is not None:
        parse_expiration(expiration)
    mode = props.octet(PropertySlot.DELIVERY_MODE)
    if mode is not None and mode not in (1, 2):
        raise precondition_failed(f"invalid message: {{delivery_mode_unknown,{mode}}}")
    extra_keys = header_routes(headers)
    if headers is not None and find_header(headers, b"BCC") is not None:
        headers = without_header(headers, b"BCC")
        edited = props.edit()
        edited.set_header_entries(headers)
        message = message.with_property_list(edited, message.exchange, message.routing_key)
        props = RawProperties(message.raw_properties, edited)
    reply_to = props.shortstr(PropertySlot.REPLY_TO)
    return PreparedPublish(
        message,
        (message.routing_key, *extra_keys),
        wants_reply=reply_to == _REPLY_QUEUE,
        headers=headers,
        properties=props,
    )


def with_reply_to(
    message: Message, reply_to: str, properties: RawProperties
) -> tuple[Message, RawProperties]:
    """The message with its ``reply_to`` property replaced (direct reply-to), and its view.

    :param properties: the view of ``message``'s property list
    """
    edited = properties.edit()
    edited.set_shortstr(PropertySlot.REPLY_TO, reply_to.encode())
    message = message.with_property_list(edited, message.exchange, message.routing_key)
    return message, RawProperties(message.raw_properties, edited)
