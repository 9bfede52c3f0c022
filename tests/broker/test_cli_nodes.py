"""``python -m async_amqp_testing --nodes N`` and SIGHUP (restart) in a subprocess."""

from __future__ import annotations

import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest
from anyio.streams.text import TextReceiveStream

import async_amqp

from .test_cli import COMMAND, stderr_of

SHUTDOWN = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"


@asynccontextmanager
async def running_lines(
    count: int, *args: str
) -> AsyncIterator[tuple[anyio.abc.Process, list[str]]]:
    """Start the command, wait for *count* stdout lines, kill it if the test leaves it up."""
    process = await anyio.open_process([*COMMAND, *args])
    try:
        assert process.stdout is not None
        text = ""
        with anyio.fail_after(20):
            async for chunk in TextReceiveStream(process.stdout):
                text += chunk
                if text.count("\n") >= count:
                    break
        yield process, text.split("\n")[:count]
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()


async def test_nodes_print_their_urls_after_the_first_line() -> None:
    async with running_lines(4, "--port", "0", "--nodes", "3") as (process, lines):
        first, *node_urls = lines
        assert first == node_urls[0]
        assert len(set(node_urls)) == 3
        assert all(url.startswith("amqp://guest:guest@127.0.0.1:") for url in node_urls)
        async with async_amqp.connect_from_url(node_urls[2]) as conn:
            channel = await conn.channel()
            await channel.queue_declare("cli.nodes")
            await channel.confirm_select()
            await channel.publish(b"from node 2", "", "cli.nodes")
        async with async_amqp.connect_from_url(node_urls[1]) as conn:
            got = await (await conn.channel()).basic_get("cli.nodes", no_ack=True)
            assert got["message"] == b"from node 2"
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await process.wait() == 0


async def test_sighup_restarts_and_keeps_durable_state() -> None:
    async with running_lines(1, "--port", "0") as (process, lines):
        (url,) = lines
        async with async_amqp.connect_from_url(url) as conn:
            channel = await conn.channel()
            await channel.queue_declare("cli.durable", durable=True)
            await channel.queue_declare("cli.transient")
            await channel.confirm_select()
            await channel.publish(b"kept", "", "cli.durable", {"delivery_mode": 2})
        with pytest.raises(async_amqp.ConnectionForcedError) as caught:
            async with async_amqp.connect_from_url(url) as conn:
                await conn.channel()
                process.send_signal(signal.SIGHUP)
                with anyio.fail_after(20):
                    await anyio.sleep_forever()
        assert (caught.value.reply_code, caught.value.reply_text) == (320, SHUTDOWN)
        with anyio.fail_after(20):
            while True:  # the listener is back once the restart is over
                try:
                    conn = async_amqp.connect_from_url(url)
                    async with conn:
                        channel = await conn.channel()
                        got = await channel.basic_get("cli.durable", no_ack=True)
                        assert got["message"] == b"kept"
                        with pytest.raises(async_amqp.NotFoundError):
                            await channel.queue_declare("cli.transient", passive=True)
                    break
                except OSError:
                    await anyio.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await process.wait() == 0
        assert "restarting on SIGHUP" in await stderr_of(process)


async def test_nodes_must_be_a_positive_number() -> None:
    result = await anyio.run_process([*COMMAND, "--nodes", "0"], check=False)
    assert result.returncode == 2
    assert b"expected a number of nodes (1 or more), got '0'" in result.stderr


async def test_a_node_port_in_use_names_the_range() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        second = taken.getsockname()[1]
        first = second - 1
        result = await anyio.run_process(
            [*COMMAND, "--port", str(first), "--nodes", "2"], check=False
        )
    assert result.returncode == 1
    assert result.stdout == b""
    error = result.stderr.decode()
    assert "Traceback" not in error
    last_line = error.rstrip("\n").rsplit("\n", 1)[-1]  # after node 0's "listening" log
    assert last_line.startswith(
        f"async_amqp_testing: cannot listen on 127.0.0.1:{first}-{second}: "
    )
