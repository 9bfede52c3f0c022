"""Every Python sample in the documentation runs, against the fake broker and RabbitMQ.

See :mod:`tests.examples.snippets` for the ``.. snippet: <id>`` convention. Each
handler below sets one sample up (unique names, queues filled as the sample
expects), runs it, and checks what it printed (its ``# prints:`` comments)
and what it did to the broker.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import pytest

import async_amqp
from tests.support import BrokerTarget

from .snippets import Snippet, assert_printed, collect, expected_prints, run_fragment, run_program

Handler = Callable[[Snippet, BrokerTarget, str], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}
SNIPPETS, PROBLEMS = collect()


def handles(snippet_id: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        assert snippet_id not in HANDLERS
        HANDLERS[snippet_id] = handler
        return handler

    return register


@asynccontextmanager
async def channel(target: BrokerTarget) -> AsyncIterator[async_amqp.Channel]:
    async with target.connect() as conn, conn.new_channel() as chan:
        yield chan


async def fill(target: BrokerTarget, queue: str, bodies: list[str]) -> None:
    """Declare *queue* and put *bodies* in it (confirmed, so they are there on return)."""
    async with channel(target) as chan:
        await chan.queue_declare(queue)
        await chan.confirm_select()
        for body in bodies:
            await chan.publish(body, "", queue)


async def ready_count(target: BrokerTarget, queue: str) -> int:
    async with channel(target) as chan:
        state = await chan.queue_declare(queue, passive=True)
        assert state is not None
        return int(state["message_count"])


async def exists(target: BrokerTarget, kind: str, name: str) -> bool:
    try:
        async with channel(target) as chan:
            if kind == "queue":
                await chan.queue_declare(name, passive=True)
            else:
                await chan.exchange_declare(name, passive=True)
    except async_amqp.NotFoundError:
        return False
    return True


# -- connecting ---------------------------------------------------------------------------


@handles("connect-program")
async def connect_program(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    printed = await run_program(snippet, backend, broker=target)
    product = "async_amqp_testing" if target.is_fake else "RabbitMQ"
    assert printed[0] == f"connected to {product}"


@handles("quickstart-program")
async def quickstart_program(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    queue = target.queue_name("greetings")
    await run_program(snippet, backend, broker=target, names={"greetings": queue})
    assert await ready_count(target, queue) == 0  # consumed and acknowledged


@handles("connect-parameters")
async def connect_parameters(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    run = await run_fragment(snippet, broker=target)
    conn = run.variables["conn"]
    assert conn.client_properties["connection_name"] == "invoice-worker"
    assert conn.blocked_timeout == 60
    assert not conn.is_open


@handles("connect-alias")
async def connect_alias(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    run = await run_fragment(snippet, broker=target)
    assert async_amqp.connect is async_amqp.connect_amqp
    assert not run.variables["conn"].is_open


@handles("connect-url")
async def connect_url(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    run = await run_fragment(snippet, broker=target)
    assert run.variables["conn"].client_properties["connection_name"] == "reports"


@handles("parse-url")
async def parse_url(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    run = await run_fragment(snippet)  # the sample asserts the result itself
    assert run.variables["options"]["login"] == "app@eu"


@handles("connection-close")
async def connection_close(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    run = await run_fragment(snippet, broker=target)
    assert not run.variables["conn"].is_open


@handles("blocked")
async def blocked(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    if not target.is_fake:
        pytest.skip("RabbitMQ's resource alarms cannot be raised from a test")
    fake = target.fake
    assert fake is not None  # is_fake
    fake.block("low on memory")
    # once the sample has reported the timeout, lift the alarm so that it can close
    await run_fragment(snippet, broker=target, on_print=lambda _: fake.unblock())


@handles("connection-error")
async def connection_error(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    run = await run_fragment(snippet, broker=target)
    assert not run.variables["conn"].is_open


# -- channels, exchanges, queues ------------------------------------------------------------


@handles("channel-open-close")
async def channel_open_close(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    async with target.connect() as conn:
        run = await run_fragment(snippet, namespace={"conn": conn})
        assert not run.variables["chan"].is_open
        async with conn.new_channel() as probe:
            assert probe.channel_id == 1  # both channels were closed


@handles("channel-error")
async def channel_error(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    async with target.connect() as conn:
        names = {"no-such-queue": target.queue_name("missing")}
        run = await run_fragment(snippet, names=names, namespace={"conn": conn})
        assert isinstance(run.variables["chan"].close_reason, async_amqp.NotFoundError)
        assert conn.is_open


@handles("no-wait")
async def no_wait(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    names = {"audit": target.queue_name("audit"), "no-such-exchange": target.exchange_name()}
    async with channel(target) as chan:
        await run_fragment(snippet, names=names, namespace={"chan": chan})
        assert not chan.is_open
    assert await exists(target, "queue", names["audit"])  # declared without waiting


@handles("exchanges")
async def exchanges(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    names = {"orders": target.exchange_name("orders"), "orders.audit": target.exchange_name()}
    async with channel(target) as chan:
        await run_fragment(snippet, names=names, namespace={"chan": chan})
    for name in names.values():
        assert not await exists(target, "exchange", name)


@handles("exchange-auto-delete")
async def exchange_auto_delete(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    name = target.exchange_name("scratch")
    async with target.connect() as conn:
        await run_fragment(snippet, names={"scratch": name}, namespace={"conn": conn})
    assert await exists(target, "exchange", name)  # never bound, so never auto-deleted


@handles("queue-declare-server-named")
async def queue_declare_server_named(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    async with channel(target) as chan:
        run = await run_fragment(snippet, namespace={"chan": chan}, check_prints=False)
        queue = run.variables["result"]["queue"]
        try:  # a durable queue: delete it even when a check fails
            assert_printed(run.printed, expected_prints(snippet.code), snippet.where)
            assert queue.startswith("amq.gen-")
        finally:
            await chan.queue_delete(queue)


@handles("typed-results")
async def typed_results(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    async with channel(target) as chan:
        run = await run_fragment(snippet, namespace={"chan": chan})
    assert run.variables["queue_name"].startswith("amq.gen-")


@handles("queues")
async def queues(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    names = {"invoices": target.queue_name("invoices"), "billing": target.exchange_name()}
    async with channel(target) as chan:
        await run_fragment(snippet, names=names, namespace={"chan": chan})
    assert not await exists(target, "queue", names["invoices"])


# -- publishing --------------------------------------------------------------------------


@handles("publish-topic")
async def publish_topic(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    exchange, queue = target.exchange_name("weather"), target.queue_name()
    async with channel(target) as chan:
        await chan.exchange_declare(exchange, "topic")
        await chan.queue_declare(queue)
        await chan.queue_bind(queue, exchange, "europe.#")
        await run_fragment(snippet, names={"weather": exchange}, namespace={"chan": chan})
        message = await chan.basic_get(queue, no_ack=True)
    assert message["message"] == b"22 degrees, sunny"
    assert message["routing_key"] == "europe.france.paris"


@handles("publish-properties")
async def publish_properties(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    queue = target.queue_name("inbox")
    async with channel(target) as chan:
        await chan.queue_declare(queue)
        await run_fragment(snippet, names={"inbox": queue}, namespace={"chan": chan})
        messages = [await chan.basic_get(queue, no_ack=True) for _ in range(4)]
    assert [message["message"] for message in messages] == [
        b"\x00\x01 raw bytes",
        "text goes out as UTF-8: h\u00e9llo".encode(),
        json.dumps({"invoice": 7}).encode(),
        b"%PDF-1.7 ...",
    ]
    assert messages[2]["properties"].as_dict() == {
        "content_type": "application/json",
        "delivery_mode": 2,
        "headers": {"attempt": 1},
    }
    assert messages[3]["properties"] == async_amqp.Properties(
        message_id="invoice-7",
        message_type="invoice.pdf",
        timestamp=datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC),
    )


@handles("confirms")
async def confirms(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    names = {"inbox": target.queue_name("inbox"), "nobody-home": target.queue_name("nowhere")}
    async with channel(target) as chan:
        await chan.queue_declare(names["inbox"])
        await run_fragment(snippet, names=names, namespace={"chan": chan})
        assert chan.publisher_confirms
        returned = [body async for body, _envelope, _properties in _first(chan, 1)]
    assert returned == [b"lost"]  # also yielded by the returns iteration
    assert await ready_count(target, names["inbox"]) == 1


@handles("confirm-window")
async def confirm_window(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    names = {"inbox": target.queue_name("inbox")}
    async with channel(target) as chan:
        await chan.queue_declare(names["inbox"])
        await run_fragment(snippet, names=names, namespace={"chan": chan})
        assert chan.publisher_confirms
    assert await ready_count(target, names["inbox"]) == 10_000


async def _first(
    chan: async_amqp.Channel, count: int
) -> AsyncIterator[tuple[bytes, async_amqp.ReturnEnvelope, async_amqp.Properties]]:
    seen = 0
    async for item in chan:
        yield item
        seen += 1
        if seen == count:
            return


@handles("transactions")
async def transactions(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    queue = target.queue_name("inbox")
    async with channel(target) as chan:
        await chan.queue_declare(queue)
        await run_fragment(snippet, names={"inbox": queue}, namespace={"chan": chan})
        bodies = [(await chan.basic_get(queue, no_ack=True))["message"] for _ in range(2)]
        with pytest.raises(async_amqp.EmptyQueueError):
            await chan.basic_get(queue)
    assert bodies == [b"first", b"second"]


# -- consuming ---------------------------------------------------------------------------


async def consume_until_deleted(snippet: Snippet, target: BrokerTarget) -> list[bytes]:
    """Run a consumer loop sample; delete its queue once it has processed every message."""
    queue = target.queue_name("jobs")
    bodies = ["job 1", "job 2", "job 3"]
    await fill(target, queue, bodies)
    processed: list[bytes] = []
    all_processed = anyio.Event()

    def process_message(
        body: bytes, envelope: async_amqp.Envelope, properties: async_amqp.Properties
    ) -> None:
        assert isinstance(properties, async_amqp.Properties)
        processed.append(body)
        if len(processed) == len(bodies):
            all_processed.set()

    async def delete_queue() -> None:
        await all_processed.wait()
        async with channel(target) as other:
            await other.queue_delete(queue)

    async with channel(target) as chan, anyio.create_task_group() as task_group:
        task_group.start_soon(delete_queue)
        namespace = {"chan": chan, "process_message": process_message}
        await run_fragment(snippet, names={"jobs": queue}, namespace=namespace)
        assert chan.is_open  # a server cancel ends the consumer, not the channel
    return processed


@handles("consume")
async def consume(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    assert await consume_until_deleted(snippet, target) == [b"job 1", b"job 2", b"job 3"]


@handles("server-cancel")
async def server_cancel(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    assert await consume_until_deleted(snippet, target) == [b"job 1", b"job 2", b"job 3"]


@handles("consumer-get")
async def consumer_get(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    queue = target.queue_name("jobs")
    await fill(target, queue, [])
    async with channel(target) as chan:
        await run_fragment(snippet, names={"jobs": queue}, namespace={"chan": chan})
        await chan.basic_qos(prefetch_count=1)  # the channel is fine after the timeout


@handles("prefetch")
async def prefetch(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    queue = target.queue_name("jobs")
    await fill(target, queue, [f"job {number}" for number in range(1, 26)])
    async with channel(target) as chan:
        run = await run_fragment(snippet, names={"jobs": queue}, namespace={"chan": chan})
        assert run.variables["batch"] == [f"job {number}".encode() for number in range(1, 11)]
    # ten acknowledged: once the channel is closed, the other fifteen are ready again
    assert await ready_count(target, queue) == 15


@handles("basic-get")
async def basic_get(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    queue = target.queue_name("jobs")
    await fill(target, queue, ["job 1"])
    async with channel(target) as chan:
        await run_fragment(snippet, names={"jobs": queue}, namespace={"chan": chan})
    assert await ready_count(target, queue) == 0


# -- cancellation and errors ------------------------------------------------------------------


@handles("cancellation")
async def cancellation(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    names = {"reports": target.queue_name("reports")}
    async with target.connect() as conn:
        async with conn.new_channel() as chan:
            await run_fragment(snippet, names=names, namespace={"chan": chan})
        assert conn.is_open


@handles("error-aliases")
async def error_aliases(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    names = {"reports": target.queue_name("reports")}
    async with channel(target) as chan:
        await run_fragment(snippet, names=names, namespace={"chan": chan})
        assert isinstance(chan.close_reason, async_amqp.NotFoundError)


# -- the tests ------------------------------------------------------------------------------


@handles("timestamp-int")
async def timestamp_int(snippet: Snippet, target: BrokerTarget, backend: str) -> None:
    queue = target.queue_name("inbox")
    async with channel(target) as chan:
        await chan.queue_declare(queue)
        run = await run_fragment(snippet, names={"inbox": queue}, namespace={"chan": chan})
    assert run.variables["message"]["properties"].timestamp == 1_733_377_000_123_456


def test_every_sample_follows_the_convention() -> None:
    assert PROBLEMS == []


def test_every_sample_has_a_handler() -> None:
    assert set(SNIPPETS) == set(HANDLERS)


@pytest.mark.parametrize("snippet_id", sorted(SNIPPETS))
async def test_sample(snippet_id: str, amqp_broker: BrokerTarget, anyio_backend: str) -> None:
    await HANDLERS[snippet_id](SNIPPETS[snippet_id], amqp_broker, anyio_backend)
