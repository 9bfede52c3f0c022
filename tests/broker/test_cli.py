"""``python -m async_amqp_testing`` in a subprocess: its URL line, serving, signals, errors.

RabbitMQ itself listens on 5672 here, so every broker started by these tests
uses ``--port 0``; "port in use" is provoked with a socket the test binds.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest
from anyio.streams.text import TextReceiveStream

import async_amqp

COMMAND = [sys.executable, "-m", "async_amqp_testing"]


@asynccontextmanager
async def running(*args: str) -> AsyncIterator[tuple[anyio.abc.Process, str]]:
    """Start the command, wait for its first stdout line, kill it if the test leaves it up."""
    process = await anyio.open_process([*COMMAND, *args])
    try:
        assert process.stdout is not None
        with anyio.fail_after(20):
            line = ""
            async for chunk in TextReceiveStream(process.stdout):
                line += chunk
                if "\n" in line:
                    break
        yield process, line.split("\n", 1)[0]
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()


async def stderr_of(process: anyio.abc.Process) -> str:
    assert process.stderr is not None
    chunks = [chunk async for chunk in TextReceiveStream(process.stderr)]
    return "".join(chunks)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_prints_its_url_serves_and_stops_on_a_signal(signum: signal.Signals) -> None:
    async with running("--port", "0", "--user", "bob:s3cret", "--vhost", "/", "--vhost", "x") as (
        process,
        url,
    ):
        assert url.startswith("amqp://bob:s3cret@127.0.0.1:")
        async with async_amqp.connect_from_url(url.rstrip("/") + "/x") as conn:
            async with conn.new_channel() as channel:
                declared = await channel.queue_declare("via-cli")
                assert declared is not None
                assert declared["queue"] == "via-cli"
        process.send_signal(signum)
        with anyio.fail_after(20):
            assert await process.wait() == 0
        assert "listening on 127.0.0.1:" in await stderr_of(process)


async def test_default_user_and_verbose_frames() -> None:
    async with running("--port", "0", "-v") as (process, url):
        assert url.startswith("amqp://guest:guest@127.0.0.1:")
        async with async_amqp.connect_from_url(url) as conn, conn.new_channel() as channel:
            await channel.queue_declare("logged")
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await process.wait() == 0
        log = await stderr_of(process)
        assert "accepted" in log
        assert "Queue.Declare" in log  # -v logs every frame


async def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await anyio.run_process([*COMMAND, "--port", str(port)], check=False)
    assert result.returncode == 1
    assert result.stdout == b""
    error = result.stderr.decode()
    assert error.count("\n") == 1
    assert error.startswith(f"async_amqp_testing: cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in error


async def test_bad_user_argument_is_a_usage_error() -> None:
    result = await anyio.run_process([*COMMAND, "--user", "nopassword"], check=False)
    assert result.returncode == 2
    assert b"expected NAME:PASSWORD" in result.stderr


def test_help() -> None:
    result = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--host", "--port", "--user", "--vhost", "--heartbeat", "--frame-max", "-v"):
        assert option in result.stdout
