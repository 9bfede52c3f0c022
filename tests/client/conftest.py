"""Fixtures of the client tests."""

from __future__ import annotations

from tests.faultproxy import proxied_broker

__all__ = ["proxied_broker"]
