"""examples/robust_service.py survives broker restarts, on the fake broker and RabbitMQ.

A "restart" here is the fake broker's ``restart()`` (320 to every client, only
durable state kept), or what a client sees of one through the proxy: the
connection is cut (or closed with 320 CONNECTION_FORCED) and new connections are
refused for a while.
"""

from __future__ import annotations

import anyio
import pytest

from tests.faultproxy import ProxiedBroker, proxied_broker

from .support import assert_lines, lit, load_example

__all__ = ["proxied_broker"]

SHUTDOWN = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"


@pytest.mark.parametrize("how", ["cut", "forced-close", "restart"])
async def test_robust_service_survives_restarts(
    proxied_broker: ProxiedBroker, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if how != "cut" and not proxied_broker.target.is_fake:
        pytest.skip("RabbitMQ cannot be restarted from a test; the cut stands in")
    proxy = proxied_broker.proxy
    restarts = 0

    async def restart() -> None:
        nonlocal restarts
        fake = proxied_broker.target.fake
        if how == "restart":  # the fake broker's own restart: durable state survives
            assert fake is not None
            await fake.restart()
            restarts += 1
            return
        proxy.refusing = True
        if how == "cut":
            assert proxy.cut() == 1
        else:
            assert fake is not None
            assert fake.close_connection(None, 320, SHUTDOWN) == 1
        await anyio.sleep(0.2)  # the broker is down for a while: attempts are refused
        proxy.refusing = False
        restarts += 1

    queue = proxied_broker.target.queue_name("robust-jobs")
    with anyio.fail_after(30):
        done = await load_example("robust_service").main(
            proxy.url(), queue_name=queue, jobs=10, restart=restart
        )
    assert restarts == 1
    assert done == {f"job {number}" for number in range(1, 11)}
    assert_lines(
        capsys.readouterr().out,
        [
            *(lit(f"handled job {number}") for number in range(1, 11)),
            lit("published 10 jobs"),
            lit("all 10 jobs handled after 1 reconnect(s)"),
        ],
    )
