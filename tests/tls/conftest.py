"""Fixtures of the TLS tests: test certificates and the broker's log."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from async_amqp_testing.tls import TLSCertificates

from .helpers import LogWaiter


@pytest.fixture(scope="module")
def certificates() -> TLSCertificates:
    """A CA and a server certificate for localhost and 127.0.0.1 (no client certificate)."""
    return TLSCertificates()


@pytest.fixture
def broker_log() -> Iterator[LogWaiter]:
    """The fake broker's log messages from INFO up, as they come."""
    logger = logging.getLogger("async_amqp_testing")
    waiter = LogWaiter()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(waiter)
    try:
        yield waiter
    finally:
        logger.removeHandler(waiter)
        logger.setLevel(level)
