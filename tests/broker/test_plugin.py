"""The pytest plugin as a user meets it: a project with no conftest, only a test file.

pytest runs in a subprocess on a temporary directory (outside this repository,
so none of its configuration applies); the file uses ``fake_broker`` from an
asyncio test, a trio test, sync pika code and a marker.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

USER_TESTS = """
import pika
import pytest
import sniffio

from async_amqp_testing import BlockingFakeBroker, FakeBroker


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_on_asyncio(fake_broker):
    assert isinstance(fake_broker, FakeBroker)
    assert sniffio.current_async_library() == "asyncio"
    async with fake_broker.connect() as conn, conn.new_channel() as channel:
        await channel.queue_declare("from-asyncio")
    assert "from-asyncio" in fake_broker.queues()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_on_trio(fake_broker):
    assert sniffio.current_async_library() == "trio"
    async with fake_broker.connect() as conn, conn.new_channel() as channel:
        await channel.queue_declare("from-trio")
        await channel.publish(b"hi", "", "from-trio")
        await channel.queue_declare("from-trio", passive=True)
    assert [m.body for m in fake_broker.messages("from-trio")] == [b"hi"]


def test_sync_with_pika(fake_broker):
    assert isinstance(fake_broker, BlockingFakeBroker)
    connection = pika.BlockingConnection(pika.URLParameters(fake_broker.url))
    channel = connection.channel()
    channel.queue_declare("from-pika")
    channel.basic_publish("", "from-pika", b"hello")
    channel.queue_declare("from-pika", passive=True)  # a round trip: the publish is in
    assert fake_broker.queue("from-pika").message_count == 1
    connection.close()


def test_each_test_gets_a_fresh_broker(fake_broker):
    assert "from-pika" not in fake_broker.queues()


@pytest.mark.fake_broker(users={"bob": "pw"}, vhosts=["/", "other"], heartbeat=5)
def test_marker(fake_broker):
    assert fake_broker.url.startswith("amqp://bob:pw@127.0.0.1:")
    parameters = pika.URLParameters(fake_broker.url.rstrip("/") + "/other")
    connection = pika.BlockingConnection(parameters)
    assert connection._impl.params.heartbeat == 5
    connection.close()
"""


def test_fixture_works_without_any_conftest(tmp_path: Path) -> None:
    (tmp_path / "test_user_project.py").write_text(textwrap.dedent(USER_TESTS))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user_project.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def test_marker_rejects_positional_arguments(tmp_path: Path) -> None:
    (tmp_path / "test_bad_marker.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.fake_broker({'bob': 'pw'})\n"
        "def test_it(fake_broker):\n"
        "    pass\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_bad_marker.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "takes keyword arguments only" in result.stdout


def test_fixture_works_without_anyios_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_sync_only.py").write_text(
        "import pika\n\n"
        "def test_it(fake_broker):\n"
        "    connection = pika.BlockingConnection(pika.URLParameters(fake_broker.url))\n"
        "    connection.channel().queue_declare('q')\n"
        "    connection.close()\n"
        "    assert 'q' in fake_broker.queues()\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:anyio"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
