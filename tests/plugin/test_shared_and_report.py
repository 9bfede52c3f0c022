"""Shared brokers (module and session scope, reset on request) and the failure report section."""

from __future__ import annotations

import pytest

from tests.plugin.bare import outcomes, run_bare

SHARED = """
import pika
import pytest


def declare(broker, name):
    connection = pika.BlockingConnection(pika.URLParameters(broker.url))
    connection.channel().queue_declare(name)
    connection.close()


def test_first(fake_broker_module, fake_broker_session):
    declare(fake_broker_module, "kept-module")
    declare(fake_broker_session, "kept-session")


def test_state_is_kept(fake_broker_module, fake_broker_session):
    assert "kept-module" in fake_broker_module.queues()
    assert "kept-session" in fake_broker_session.queues()


@pytest.mark.fake_broker_reset
def test_reset_when_asked(fake_broker_module, fake_broker_session):
    assert fake_broker_module.queues() == {}
    assert fake_broker_session.queues() == {}


async def test_async_tests_share_it_too(fake_broker_session):
    async with fake_broker_session.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare("from-async", passive=False)
    assert "from-async" in fake_broker_session.queues()
"""

SECOND_MODULE = """
def test_session_broker_outlives_the_module(fake_broker_session):
    assert "from-async" in fake_broker_session.queues()


def test_module_broker_is_new(fake_broker_module):
    assert "kept-module" not in fake_broker_module.queues()
"""

FAILING = """
import pika


def test_leaves_messages_behind(fake_broker):
    connection = pika.BlockingConnection(pika.URLParameters(fake_broker.url))
    channel = connection.channel()
    channel.queue_declare("orders")
    channel.basic_publish("", "orders", b'{"id": 1}')
    channel.basic_publish("", "orders", b'{"id": 2}')
    channel.queue_declare("orders", passive=True)
    channel.basic_consume("orders", lambda *args: None, consumer_tag="worker-1")
    connection.process_data_events(time_limit=0.2)
    assert False, "the test failed"


async def test_async_failure(fake_broker):
    async with fake_broker.connect() as conn, conn.new_channel() as chan:
        await chan.queue_declare("invoices")
        await chan.publish(b"x" * 200, "", "invoices")
        await chan.queue_declare("invoices", passive=True)
    assert False


def test_passes(fake_broker):
    pass
"""


@pytest.mark.parametrize("async_backend_tests", ["asyncio"])
def test_module_and_session_brokers(pytester: pytest.Pytester, async_backend_tests: str) -> None:
    pytester.makeconftest(
        f"""
        import pytest

        @pytest.fixture
        def anyio_backend():
            return {async_backend_tests!r}
        """
    )
    pytester.makepyfile(test_a_shared=SHARED, test_b_second=SECOND_MODULE)
    result = run_bare(pytester)
    assert outcomes(result) == {"passed": 6}, result.stdout.str()


def test_shared_brokers_on_trio(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(params=["trio"])
        def anyio_backend(request):
            return request.param
        """
    )
    pytester.makepyfile(test_a_shared=SHARED)
    result = run_bare(pytester)
    assert outcomes(result) == {"passed": 4}, result.stdout.str()


def test_failed_test_report_shows_the_broker_state(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"
        """
    )
    pytester.makepyfile(test_failing=FAILING)
    result = run_bare(pytester)
    assert outcomes(result) == {"failed": 2, "passed": 1}, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*- fake broker state (fake_broker) -*",
            "vhost '/': 1 queue(s)",
            "  queue 'orders': 0 ready, 2 unacked, consumers: worker-1",
            "1 open connection(s)",
            "*- fake broker state (fake_broker) -*",
            "  queue 'invoices': 1 ready, 0 unacked, consumers: none",
            "    ready: b'xxxx*… (200 bytes)",
        ]
    )
    assert result.stdout.str().count("fake broker state") == 2
