"""``python -m async_amqp_testing`` listening with TLS (``--tls-cert``, ``--tls-key``, ...).

With ``--tls-cert FILE --tls-key FILE`` the command prints an ``amqps://`` URL as its
first line and serves TLS; ``--tls-ca FILE`` checks client certificates and offers
EXTERNAL, and ``--tls-verify-client`` requires one. Every broker here uses
``--port 0`` (RabbitMQ listens on 5672).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc
import pytest
from anyio.streams.text import TextReceiveStream

import async_amqp
from async_amqp_testing.tls import TLSCertificates, TLSFiles

COMMAND = [sys.executable, "-m", "async_amqp_testing", "--port", "0"]


@asynccontextmanager
async def running(*args: str) -> AsyncIterator[tuple[anyio.abc.Process, str]]:
    """Start the broker, wait for its first line of output, stop it when the test is done."""
    process = await anyio.open_process([*COMMAND, *args])
    try:
        assert process.stdout is not None
        with anyio.fail_after(20):
            text = ""
            async for chunk in TextReceiveStream(process.stdout):
                text += chunk
                if "\n" in text:
                    break
        yield process, text.split("\n", 1)[0]
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()


@pytest.fixture
def certificates() -> TLSCertificates:
    return TLSCertificates(client_user="guest")


@pytest.fixture
def files(certificates: TLSCertificates, tmp_path: Path) -> TLSFiles:
    return certificates.write_files(tmp_path)


async def test_tls_listener_prints_an_amqps_url(
    certificates: TLSCertificates, files: TLSFiles
) -> None:
    options = ["--tls-cert", str(files.server_certificate), "--tls-key", str(files.server_key)]
    async with running(*options) as (_process, url):
        assert url.startswith("amqps://guest:guest@127.0.0.1:")
        context = certificates.client_context(with_certificate=False)
        async with async_amqp.connect_from_url(url, ssl=context) as conn:
            async with conn.new_channel() as channel:
                await channel.queue_declare("via-tls-cli")
        with pytest.raises(async_amqp.TLSError, match="untrusted certificate authority"):
            async with async_amqp.connect_from_url(url):
                pass
        query = f"cacertfile={files.ca_certificate}"
        async with async_amqp.connect_from_url(f"{url}?{query}"):
            pass


async def test_mutual_tls_and_external(certificates: TLSCertificates, files: TLSFiles) -> None:
    options = [
        *("--tls-cert", str(files.server_certificate), "--tls-key", str(files.server_key)),
        *("--tls-ca", str(files.ca_certificate), "--tls-verify-client"),
    ]
    async with running(*options) as (_process, url):
        async with async_amqp.connect_from_url(
            f"{url}?{files.url_query()}&auth_mechanism=external", login="nobody"
        ) as conn:
            async with conn.new_channel():
                pass
        without = certificates.client_context(with_certificate=False)
        with pytest.raises(async_amqp.TLSError, match="requires a client certificate"):
            async with async_amqp.connect_from_url(url, ssl=without):
                pass


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--tls-key", "key.pem"], "need --tls-cert"),
        (["--tls-cert", "cert.pem", "--tls-verify-client"], "--tls-verify-client needs --tls-ca"),
        (["--tls-cert", "/no/such/cert.pem"], "cannot load --tls-cert"),
    ],
)
def test_bad_tls_options_are_usage_errors(arguments: list[str], message: str) -> None:
    result = subprocess.run(
        [*COMMAND, *arguments], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
