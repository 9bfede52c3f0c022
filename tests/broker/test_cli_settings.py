"""Settings are checked before the broker listens: FakeBroker and the command line.

Before, ``--channel-max 70000``, ``--heartbeat -1`` and ``--frame-max 10`` started a
broker that every client then failed against (with a login error), and ``--port 99999``
printed a 52-line traceback.
"""

from __future__ import annotations

import signal
import subprocess
from typing import Any

import anyio
import pytest

import async_amqp
from async_amqp_testing import FakeBroker
from tests.broker.test_cli import COMMAND, running, stderr_of

BAD_OPTIONS = [
    (["--channel-max", "70000"], "--channel-max must be an integer 0..65535, not 70000"),
    (["--heartbeat", "-1"], "--heartbeat must be an integer 0..65535 seconds, not -1"),
    (["--frame-max", "10"], "--frame-max must be 0 (no limit) or at least 4096, not 10"),
    (["--port", "99999"], "--port must be an integer 0..65535, not 99999"),
    (
        ["--tls-handshake-timeout", "-1"],
        "--tls-handshake-timeout must be more than 0 seconds, not -1.0",
    ),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS, ids=[o[0] for o, _ in BAD_OPTIONS])
def test_bad_settings_are_one_line_errors_with_status_2(options: list[str], message: str) -> None:
    result = subprocess.run(
        [*COMMAND, *options], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"python -m async_amqp_testing: error: {message}\n"


def test_help_shows_the_defaults() -> None:
    result = subprocess.run(
        [*COMMAND, "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    text = " ".join(result.stdout.split())
    for shown in [
        "--host HOST address to listen on (default: 127.0.0.1)",
        "(default: 0: a free port, named by the URL printed first",
        "0: none (default: 60)",
        "(default: 131072)",
        "(default: 2047)",
        "(default: 5.0, as RabbitMQ)",
    ]:
        assert shown in text


async def test_the_default_port_is_a_free_one_not_rabbitmqs() -> None:
    async with running() as (process, url):
        port = async_amqp.parse_url(url)["port"]
        assert port != 5672
        async with async_amqp.connect_from_url(url) as conn, conn.new_channel() as channel:
            await channel.queue_declare("default-port")
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await process.wait() == 0


async def test_verbose_logs_never_show_the_password() -> None:
    async with running("-v", "--user", "app:S3cretPW-cli") as (process, url):
        async with async_amqp.connect_from_url(url) as conn, conn.new_channel() as channel:
            await channel.queue_declare("quiet")
        with pytest.raises(async_amqp.AuthenticationError):
            async with async_amqp.connect_from_url(url.replace("S3cretPW-cli", "S3cretPW-bad")):
                pass
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await process.wait() == 0
        log = await stderr_of(process)
    assert "Connection.StartOk(" in log  # -v traces frames
    assert "S3cretPW" not in log


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"channel_max": 70000}, "channel_max must be an integer 0..65535, not 70000"),
        ({"heartbeat": -1}, "heartbeat must be an integer 0..65535 seconds, not -1"),
        ({"frame_max": 10}, "frame_max must be 0 (no limit) or at least 4096, not 10"),
        ({"port": 99999}, "port must be an integer 0..65535, not 99999"),
        ({"close_timeout": -1}, "close_timeout must be 0 or more seconds, not -1"),
        ({"reply_delay": float("nan")}, "reply_delay must be a number of seconds, not nan"),
    ],
)
def test_fake_broker_refuses_settings_no_client_can_use(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(async_amqp.ConfigurationError) as caught:
        FakeBroker(**settings)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_fake_broker_accepts_the_limits() -> None:
    broker = FakeBroker(heartbeat=0, frame_max=0, channel_max=65535, port=65535)
    assert (broker.heartbeat, broker.frame_max, broker.channel_max) == (0, 0, 65535)
    assert FakeBroker(frame_max=4096).frame_max == 4096
