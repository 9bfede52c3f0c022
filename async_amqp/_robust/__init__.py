"""Connections that survive broker restarts and network cuts (``connect_robust``)."""

from .channel import RobustChannel
from .connect import connect_robust
from .connection import RobustConnection
from .consumer import RobustConsumer
from .state import ConnectionEvent, EventKind, EventStream
from .topology import DeclaredQueue

__all__ = [
    "ConnectionEvent",
    "DeclaredQueue",
    "EventKind",
    "EventStream",
    "RobustChannel",
    "RobustConnection",
    "RobustConsumer",
    "connect_robust",
]
