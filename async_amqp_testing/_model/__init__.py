"""The fake broker's state model: plain synchronous, deterministic Python.

The wire side (sessions, handlers) drives it: `BrokerModel` authenticates and
opens `ConnectionModel`s, whose `ChannelModel`s carry the AMQP methods. Methods
return the synchronous reply's values or raise `AmqpError`; asynchronous
output (`Deliver`, `Return`, confirms, `CancelNotify`) lands in the
connection's `outbox`, deliveries only when `BrokerModel.dispatch` runs.
"""

from .broker import BrokerModel
from .channel import ChannelModel, GetResult, PublishMode
from .connection import ConnectionModel
from .errors import AmqpError, ReplyCode
from .events import CancelNotify, Deliver, Event, PublisherAck, PublisherNack, Return
from .fieldtable import FieldValue, decode_table, encode_table, typed
from .message import Message, decode_properties

__all__ = [
    "AmqpError",
    "BrokerModel",
    "CancelNotify",
    "ChannelModel",
    "ConnectionModel",
    "Deliver",
    "Event",
    "FieldValue",
    "GetResult",
    "Message",
    "PublishMode",
    "PublisherAck",
    "PublisherNack",
    "ReplyCode",
    "Return",
    "decode_properties",
    "decode_table",
    "encode_table",
    "typed",
]
