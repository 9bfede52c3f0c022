"""pytest plugin: the ``fake_broker`` fixture and marker, installed with the package.

Registered through the ``pytest11`` entry point, so a project only needs the
package installed, no conftest. A fresh broker is started for every test that
asks for ``fake_broker``:

* an async test run by anyio's pytest plugin gets a :class:`FakeBroker`
  served in the test's own event loop (asyncio or trio, whichever backend
  the test runs on);
* any other test (plain sync tests using pika or kombu, or async tests run by
  another plugin) gets a :class:`BlockingFakeBroker`: the broker runs in a
  background thread with its own event loop, and every method is safe to call
  from the test's thread.

An ``async def`` test that asks for one of these fixtures runs under anyio with
no marker and no configuration: on asyncio, or on every backend the project's
``anyio_backend`` fixture names. Tests marked ``@pytest.mark.asyncio`` (or every
async test under pytest-asyncio's auto mode) stay pytest-asyncio's and get a
:class:`BlockingFakeBroker`.

``fake_broker_module`` and ``fake_broker_session`` share one broker (in a
background thread) across a module or the whole session; the
``fake_broker_reset`` marker empties it (queues, exchanges, messages) before a test.
When a test that used a broker fails, its report has a "fake broker state" section.

Configure it per test with ``@pytest.mark.fake_broker(users={'bob': 'pw'},
vhosts=['/', 'other'], heartbeat=5)``; the keywords are :class:`FakeBroker`'s
(``nodes=3`` serves three cluster nodes: ``urls``, ``stop_node``, ``start_node``).

``fake_broker_tls`` is the same broker listening with TLS, on a certificate for
``localhost`` and ``127.0.0.1`` from a throwaway CA; its ``client_ssl_context``
trusts that CA. ``fake_broker_mtls`` (or the marker keyword
``tls_client_cert=True`` / ``tls_client_cert='NAME'``) also requires a client
certificate, gives the client one whose CN is the first user (or NAME), and offers
SASL EXTERNAL. The certificates come from trustme, imported only by these fixtures.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

import pytest

from ._blocking import BlockingFakeBroker
from ._broker import FakeBroker
from ._plugin_support import BROKER_FIXTURES, claims_for_anyio, describe_state

__all__ = [
    "fake_broker",
    "fake_broker_module",
    "fake_broker_mtls",
    "fake_broker_options",
    "fake_broker_session",
    "fake_broker_tls",
]


#: The marker keyword that only the TLS fixtures understand.
TLS_CLIENT_CERT = "tls_client_cert"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``fake_broker`` marker."""
    config.addinivalue_line(
        "markers",
        "fake_broker(**options): options of the fake_broker fixture, as FakeBroker keywords "
        "(users, vhosts, permissions, heartbeat, frame_max, channel_max, nodes, ...); with "
        "fake_broker_tls also tls_client_cert=True or a user name (mutual TLS)",
    )
    config.addinivalue_line(
        "markers",
        "fake_broker_reset: empty the shared fake_broker_module / fake_broker_session "
        "broker (queues, exchanges, messages) before the test",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> None:
    """Run ``async def`` tests that ask for a broker under anyio, with no configuration."""
    if claims_for_anyio(collector, name, obj):
        pytest.mark.anyio(obj)
        pytest.mark.usefixtures("anyio_backend")(obj)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the broker's state (queues, unacked, consumers) to a failed test's report."""
    report = yield
    if report.failed and call.when == "call":
        funcargs: dict[str, Any] = getattr(item, "funcargs", {})
        for name in sorted(BROKER_FIXTURES & set(funcargs)):
            try:
                state = describe_state(funcargs[name])
            except Exception as error:  # the broker may be what broke
                state = f"(could not inspect the broker: {error!r})"
            report.sections.append((f"fake broker state ({name})", state))
    return report


def fake_broker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Collect the keywords of every ``fake_broker`` marker on the test (the closest wins).

    :param request: the fixture request
    :raises TypeError: when a marker has positional arguments
    """
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("fake_broker"))):
        if marker.args:
            raise TypeError(
                "@pytest.mark.fake_broker takes keyword arguments only, e.g. "
                "@pytest.mark.fake_broker(users={'bob': 'secret'})"
            )
        options.update(marker.kwargs)
    return options


def _runs_on_anyio(request: pytest.FixtureRequest) -> bool:
    function = getattr(request, "function", None)
    return (
        function is not None
        and inspect.iscoroutinefunction(function)
        and "anyio_backend" in request.fixturenames
    )


def _plain_broker(request: pytest.FixtureRequest) -> FakeBroker:
    options = fake_broker_options(request)
    if TLS_CLIENT_CERT in options:
        raise TypeError(
            f"{TLS_CLIENT_CERT} is an option of fake_broker_tls and fake_broker_mtls, "
            "not of fake_broker"
        )
    return FakeBroker(**options)


def _tls_broker(request: pytest.FixtureRequest, *, mutual: bool) -> FakeBroker:
    """A FakeBroker serving TLS with new test certificates, written under a temp dir."""
    from .tls import TLSCertificates  # trustme is imported only here, when TLS is asked for

    options = fake_broker_options(request)
    client_cert = options.pop(TLS_CLIENT_CERT, mutual)
    client_user: str | None = None
    if isinstance(client_cert, str):
        client_user = client_cert
    elif client_cert:
        users = options.get("users") or {"guest": "guest"}
        client_user = next(iter(users))
    certificates = TLSCertificates(client_user=client_user)
    tmp_path_factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    certificates.write_files(tmp_path_factory.mktemp("fake_broker_tls"))
    return FakeBroker(certificates=certificates, **options)


@pytest.fixture
def fake_broker(request: pytest.FixtureRequest) -> Iterator[FakeBroker | BlockingFakeBroker]:
    """A fresh fake broker for this test (in the test's event loop, or in a thread).

    Async tests run by anyio get a :class:`FakeBroker`; other tests get a thread-safe
    :class:`BlockingFakeBroker`. Both have ``url``, ``host``, ``port``, ``connect()`` and
    the inspection and fault-injection methods.
    """
    if _runs_on_anyio(request):
        yield request.getfixturevalue("_fake_broker_in_test_loop")
        return
    with _plain_broker(request).in_thread() as broker:
        yield broker


@pytest.fixture
def fake_broker_tls(request: pytest.FixtureRequest) -> Iterator[FakeBroker | BlockingFakeBroker]:
    """A fresh fake broker listening with TLS (``amqps://``), like ``fake_broker``.

    Besides ``url``, ``host`` and ``port`` it has ``client_ssl_context`` (an
    ``ssl.SSLContext`` that trusts the broker's CA), ``certificates`` and ``tls_files``
    (PEM files of the CA and certificates). ``connect()`` uses ``client_ssl_context``.
    """
    if _runs_on_anyio(request):
        yield request.getfixturevalue("_fake_broker_tls_in_test_loop")
        return
    with _tls_broker(request, mutual=False).in_thread() as broker:
        yield broker


@pytest.fixture
def fake_broker_mtls(request: pytest.FixtureRequest) -> Iterator[FakeBroker | BlockingFakeBroker]:
    """Like ``fake_broker_tls``, with mutual TLS: clients must present a certificate.

    ``client_ssl_context`` presents a certificate whose CN is the first user, so
    ``login_method="EXTERNAL"`` logs in as that user; ``tls_files`` has the client
    certificate and key files too.
    """
    if _runs_on_anyio(request):
        yield request.getfixturevalue("_fake_broker_mtls_in_test_loop")
        return
    with _tls_broker(request, mutual=True).in_thread() as broker:
        yield broker


@pytest.fixture
async def _fake_broker_in_test_loop(
    request: pytest.FixtureRequest, anyio_backend: Any
) -> AsyncIterator[FakeBroker]:
    """The broker served by the test's own anyio event loop (run by anyio's plugin)."""
    async with _plain_broker(request).serve() as broker:
        yield broker


@pytest.fixture
async def _fake_broker_tls_in_test_loop(
    request: pytest.FixtureRequest, anyio_backend: Any
) -> AsyncIterator[FakeBroker]:
    """The TLS broker served by the test's own anyio event loop."""
    async with _tls_broker(request, mutual=False).serve() as broker:
        yield broker


@pytest.fixture
async def _fake_broker_mtls_in_test_loop(
    request: pytest.FixtureRequest, anyio_backend: Any
) -> AsyncIterator[FakeBroker]:
    """The mutual-TLS broker served by the test's own anyio event loop."""
    async with _tls_broker(request, mutual=True).serve() as broker:
        yield broker


@pytest.fixture(scope="module")
def _fake_broker_module_server() -> Iterator[BlockingFakeBroker]:
    with FakeBroker().in_thread() as broker:
        yield broker


@pytest.fixture(scope="session")
def _fake_broker_session_server() -> Iterator[BlockingFakeBroker]:
    with FakeBroker().in_thread() as broker:
        yield broker


def _shared(request: pytest.FixtureRequest, broker: BlockingFakeBroker) -> BlockingFakeBroker:
    if request.node.get_closest_marker("fake_broker_reset") is not None:
        broker.reset()
    return broker


@pytest.fixture
def fake_broker_module(
    request: pytest.FixtureRequest, _fake_broker_module_server: BlockingFakeBroker
) -> BlockingFakeBroker:
    """One broker shared by every test of a module (served from a background thread).

    State carries over from test to test; mark a test (or the module, with
    ``pytestmark``) ``@pytest.mark.fake_broker_reset`` to start it empty.
    """
    return _shared(request, _fake_broker_module_server)


@pytest.fixture
def fake_broker_session(
    request: pytest.FixtureRequest, _fake_broker_session_server: BlockingFakeBroker
) -> BlockingFakeBroker:
    """One broker shared by the whole test session (served from a background thread).

    State carries over from test to test; ``@pytest.mark.fake_broker_reset`` empties it
    before a test.
    """
    return _shared(request, _fake_broker_session_server)
