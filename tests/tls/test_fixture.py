"""The ``fake_broker_tls`` and ``fake_broker_mtls`` fixtures, as a user meets them.

The first test is the acceptance check of the TLS issue, exactly as a user writes
it. The subprocess tests run pytest in an empty directory (no conftest, none of
this repository's settings) to show that installing the package is enough.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

import async_amqp
from async_amqp import connect_amqp
from async_amqp_testing import BlockingFakeBroker, FakeBroker


async def test_user_test_with_fake_broker_tls(fake_broker_tls: FakeBroker) -> None:
    async with connect_amqp(
        host=fake_broker_tls.host,
        port=fake_broker_tls.port,
        ssl=fake_broker_tls.client_ssl_context,
    ) as conn:
        async with conn.new_channel() as channel:
            await channel.queue_declare("orders")
    assert "orders" in fake_broker_tls.queues()
    with pytest.raises(async_amqp.TLSError, match="certificate"):
        async with connect_amqp(host=fake_broker_tls.host, port=fake_broker_tls.port, ssl=True):
            pass


async def test_the_fixture_gives_url_host_port_and_context(fake_broker_tls: FakeBroker) -> None:
    assert isinstance(fake_broker_tls, FakeBroker)
    assert fake_broker_tls.url == f"amqps://guest:guest@127.0.0.1:{fake_broker_tls.port}/"
    assert fake_broker_tls.host == "127.0.0.1"
    context = fake_broker_tls.client_ssl_context
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    files = fake_broker_tls.tls_files
    assert files.client_certificate is None
    assert files.ca_certificate.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert fake_broker_tls.auth_mechanisms == ["PLAIN", "AMQPLAIN"]


async def test_the_mtls_fixture_gives_client_files(fake_broker_mtls: FakeBroker) -> None:
    files = fake_broker_mtls.tls_files
    assert files.client_certificate is not None
    assert files.client_key is not None
    assert files.client_key.read_bytes().startswith(b"-----BEGIN")
    assert fake_broker_mtls.auth_mechanisms == ["PLAIN", "AMQPLAIN", "EXTERNAL"]
    assert fake_broker_mtls.ssl_context is not None
    assert fake_broker_mtls.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_sync_test_gets_a_threaded_tls_broker(fake_broker_tls: BlockingFakeBroker) -> None:
    assert isinstance(fake_broker_tls, BlockingFakeBroker)
    assert fake_broker_tls.url.startswith("amqps://guest:guest@127.0.0.1:")
    assert isinstance(fake_broker_tls.client_ssl_context, ssl.SSLContext)
    assert fake_broker_tls.tls_files.ca_certificate.exists()

    async def declare() -> None:
        async with fake_broker_tls.connect() as conn, conn.new_channel() as channel:
            await channel.queue_declare("from-a-sync-test")

    anyio.run(declare)
    assert "from-a-sync-test" in fake_broker_tls.queues()


def test_sync_mtls_broker(fake_broker_mtls: BlockingFakeBroker) -> None:
    async def external() -> None:
        async with fake_broker_mtls.connect(login_method="EXTERNAL") as conn:
            async with conn.new_channel():
                pass

    anyio.run(external, backend="trio")
    assert fake_broker_mtls.certificates is not None
    assert fake_broker_mtls.certificates.client_user == "guest"


USER_TESTS = """
import pika
import pytest
import sniffio

import async_amqp
from async_amqp import connect_amqp


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_tls(fake_broker_tls, anyio_backend):
    assert sniffio.current_async_library() == anyio_backend
    async with connect_amqp(
        host=fake_broker_tls.host,
        port=fake_broker_tls.port,
        ssl=fake_broker_tls.client_ssl_context,
    ) as conn:
        async with conn.new_channel() as channel:
            await channel.queue_declare("orders")
    with pytest.raises(async_amqp.TLSError, match="certificate"):
        async with connect_amqp(host=fake_broker_tls.host, port=fake_broker_tls.port, ssl=True):
            pass


def test_pika_over_tls(fake_broker_tls):
    parameters = pika.ConnectionParameters(
        host=fake_broker_tls.host,
        port=fake_broker_tls.port,
        ssl_options=pika.SSLOptions(fake_broker_tls.client_ssl_context, "localhost"),
    )
    connection = pika.BlockingConnection(parameters)
    connection.channel().queue_declare("from-pika")
    connection.close()
    assert "from-pika" in fake_broker_tls.queues()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.fake_broker(users={"svc": "pw"})
async def test_mtls(fake_broker_mtls):
    async with fake_broker_mtls.connect(login_method="EXTERNAL") as conn, conn.new_channel():
        assert [c.user for c in fake_broker_mtls.connections()] == ["svc"]
"""


def run_pytest(directory: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_fixtures_work_without_any_conftest(tmp_path: Path) -> None:
    (tmp_path / "test_user_project.py").write_text(textwrap.dedent(USER_TESTS))
    result = run_pytest(tmp_path, "test_user_project.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def test_trustme_is_imported_only_by_the_tls_fixtures() -> None:
    code = (
        "import sys\n"
        "import async_amqp_testing, async_amqp_testing.pytest_plugin, async_amqp_testing.tls\n"
        "assert 'trustme' not in sys.modules, 'trustme imported too early'\n"
        "async_amqp_testing.tls.TLSCertificates()\n"
        "assert 'trustme' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_missing_trustme_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "test_without_trustme.py").write_text(
        "import sys\n"
        "sys.modules['trustme'] = None  # as if it were not installed\n\n"
        "def test_plain_broker_still_works(fake_broker):\n"
        "    assert fake_broker.url.startswith('amqp://')\n\n"
        "def test_tls(fake_broker_tls):\n"
        "    pass\n"
    )
    result = run_pytest(tmp_path, "test_without_trustme.py")
    assert result.returncode == 1
    assert "1 passed, 1 error" in result.stdout
    assert "need the trustme package: pip install trustme" in result.stdout


def test_tls_client_cert_is_not_an_option_of_the_plain_fixture(tmp_path: Path) -> None:
    (tmp_path / "test_marker.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.fake_broker(tls_client_cert=True)\n"
        "def test_it(fake_broker):\n"
        "    pass\n"
    )
    result = run_pytest(tmp_path, "test_marker.py")
    assert result.returncode == 1
    assert "tls_client_cert is an option of fake_broker_tls" in result.stdout


async def test_a_broker_without_certificates_has_no_client_context() -> None:
    async with FakeBroker().serve() as broker:
        with pytest.raises(RuntimeError, match="no test certificates"):
            broker.client_ssl_context  # noqa: B018
        with pytest.raises(RuntimeError, match="no test certificates"):
            broker.tls_files  # noqa: B018


def test_missing_trustme_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from async_amqp_testing.tls import TLSCertificates

    monkeypatch.setitem(sys.modules, "trustme", None)
    with pytest.raises(ImportError, match="pip install trustme"):
        TLSCertificates()
