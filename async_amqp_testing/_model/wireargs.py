"""Typed ``arguments`` tables straight from method-frame payloads.

The codec is the core's (:func:`async_amqp._core.methods.method_arguments`);
re-exported here for the model.
"""

from __future__ import annotations

from async_amqp._core.methods import method_arguments

__all__ = ["method_arguments"]
