"""Scale: how the fake broker's speed holds up as it grows, beside RabbitMQ, same run.

    python benchmarks/scale.py [--quick] [--case NAME ...] [--rounds N] [--broker both]

Cases (each measured with async_amqp on asyncio; brokers alternate within a round):

``routing-<type>-<n>``
    an exchange of type direct, topic or headers with *n* bindings to one queue,
    exactly one of which matches the published messages; the rate of confirmed
    publishes through a confirm window (1000 in flight).
``queues-1000``
    1,000 queues with a consumer each (one channel); one message published to
    each queue in turn, repeatedly; the rate until every message was consumed.
``connections-500``
    open 500 connections with a channel each (concurrently), then one confirmed
    publish on each; the time for the whole.

The table shows the median per broker and, with both brokers, the per-round
ratio "fake ÷ RabbitMQ" (above 1: the fake is faster), plus for routing the
fake's rate at the largest size ÷ its rate at 10 bindings.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from async_amqp import Channel, connect_amqp
from benchmarks._fakebroker import FakeBrokerProcess

BODY = b"x" * 100
EXPIRES = {"x-expires": 600_000}
Case = Callable[[int, bool], Awaitable[float]]


def _connect(port: int) -> Any:
    return connect_amqp(host="127.0.0.1", port=port)


def _binding(kind: str, number: int) -> tuple[str, dict[str, Any] | None]:
    """Binding *number*'s key and arguments; number 0 is the one the messages match."""
    if kind == "direct":
        return f"key.{number}", None
    if kind == "topic":
        return f"stock.{number}.*.#", None
    return "", {"x-match": "all", "symbol": f"s{number}", "kind": "trade"}


async def _bind_all(chan: Channel, kind: str, exchange: str, queue: str, count: int) -> None:
    for number in range(count):
        key, arguments = _binding(kind, number)
        await chan.queue_bind(queue, exchange, key, arguments=arguments)


def routing_case(kind: str, bindings: int) -> Case:
    async def run(port: int, quick: bool) -> float:
        duration = 1.5 if quick else 4.0  # seconds of publishing (at least 200 messages)
        tag = uuid.uuid4().hex[:8]
        exchange, queue = f"bench.scale.{kind}.{tag}", f"bench.scale.{kind}.{tag}"
        async with _connect(port) as conn, conn.new_channel() as chan:
            await chan.exchange_declare(exchange, kind)
            await chan.queue_declare(queue, arguments=EXPIRES)
            try:
                await _bind_all(chan, kind, exchange, queue, bindings)
                matching_key = "stock.0.nyse.eur" if kind == "topic" else _binding(kind, 0)[0]
                properties = {"headers": {"symbol": "s0", "kind": "trade"}}
                started = time.perf_counter()
                count = 0
                async with chan.confirm_window(size=1000) as window:
                    while count < 200 or time.perf_counter() - started < duration:
                        for _ in range(200):
                            await window.publish(
                                BODY, exchange, matching_key, properties=properties
                            )
                        count += 200
                rate = count / (time.perf_counter() - started)
                declared = await chan.queue_declare(queue, passive=True) or {}
                assert declared["message_count"] == count, declared
            finally:
                await chan.exchange_delete(exchange)
                await chan.queue_delete(queue)
        return rate

    return run


async def queues_case(port: int, quick: bool) -> float:
    queue_count, per_queue = 1000, (3 if quick else 10)
    tag = uuid.uuid4().hex[:8]
    names = [f"bench.scale.q{number}.{tag}" for number in range(queue_count)]
    total = queue_count * per_queue
    received = 0
    done = anyio.Event()
    async with _connect(port) as conn, conn.new_channel() as chan, conn.new_channel() as pub:
        for name in names:
            await chan.queue_declare(name, arguments=EXPIRES)
        try:

            async def callback(chan: Channel, body: bytes, envelope: Any, properties: Any) -> None:
                nonlocal received
                received += 1
                if received == total:
                    done.set()

            for name in names:
                await chan.basic_consume(callback, queue_name=name, no_ack=True)
            started = time.perf_counter()
            for _ in range(per_queue):
                for name in names:
                    await pub.publish(BODY, "", name)
            with anyio.fail_after(120):
                await done.wait()
            rate = total / (time.perf_counter() - started)
        finally:
            for name in names:
                await pub.queue_delete(name)
    return rate


async def connections_case(port: int, quick: bool) -> float:
    count = 200 if quick else 500
    tag = uuid.uuid4().hex[:8]
    queue = f"bench.scale.conns.{tag}"
    started = time.perf_counter()
    opened = 0
    all_open = anyio.Event()
    finish = anyio.Event()

    async def one() -> None:
        nonlocal opened
        async with _connect(port) as conn, conn.new_channel() as chan:
            opened += 1
            if opened == count:
                all_open.set()
            await finish.wait()
            async with chan.confirm_window(size=1) as window:
                await window.publish(BODY, "", queue)

    async with _connect(port) as admin, admin.new_channel() as chan:
        await chan.queue_declare(queue, arguments=EXPIRES)
        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(one)
            await all_open.wait()
            finish.set()
        elapsed = time.perf_counter() - started
        declared = await chan.queue_declare(queue, passive=True) or {}
        assert declared["message_count"] == count, declared
        await chan.queue_delete(queue)
    return elapsed * 1000


def cases(quick: bool) -> dict[str, tuple[Case, str]]:
    sizes = (10, 1000, 10_000)
    table: dict[str, tuple[Case, str]] = {}
    for kind in ("direct", "topic", "headers"):
        for size in sizes:
            table[f"routing-{kind}-{size}"] = (routing_case(kind, size), "msg/s")
    table["queues-1000"] = (queues_case, "msg/s")
    table["connections-500"] = (connections_case, "ms")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages, 1 round")
    parser.add_argument("--case", action="append", metavar="NAME", help="prefix match")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--broker", choices=("both", "fake", "rabbitmq"), default="both")
    parser.add_argument("--port", type=int, default=5672, help="RabbitMQ's port")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    selected = {
        name: case
        for name, case in cases(args.quick).items()
        if not args.case or any(name.startswith(prefix) for prefix in args.case)
    }
    with FakeBrokerProcess() as fake:
        ports = {"rabbitmq": args.port, "fake": fake.port}
        if args.broker != "both":
            ports = {args.broker: ports[args.broker]}
        results: dict[str, dict[str, list[float]]] = {}
        for name, (case, unit) in selected.items():
            results[name] = {broker: [] for broker in ports}
            for round_number in range(rounds):
                order = list(ports) if round_number % 2 == 0 else list(reversed(ports))
                for broker in order:
                    value = anyio.run(case, ports[broker], args.quick)
                    results[name][broker].append(value)
                    print(f"  {name} {broker}: {value:,.0f} {unit}", file=sys.stderr, flush=True)
    print(render(results, {name: unit for name, (_case, unit) in selected.items()}))
    return 0


def render(results: dict[str, dict[str, list[float]]], units: dict[str, str]) -> str:
    lines = ["| case | unit | RabbitMQ | fake | fake ÷ RabbitMQ | fake ÷ fake at 10 bindings |"]
    lines.append("|---|---|---:|---:|---:|---:|")
    for name, per_broker in results.items():
        unit = units[name]
        rabbit, fake = per_broker.get("rabbitmq", []), per_broker.get("fake", [])

        versus = [f / r if unit == "msg/s" else r / f for r, f in zip(rabbit, fake, strict=False)]
        base_name = name.rsplit("-", 1)[0] + "-10"
        scaled = ""
        if name.startswith("routing-") and base_name in results and fake:
            base = results[base_name].get("fake", [])
            if base:
                scaled = f"{statistics.median(fake) / statistics.median(base):.2f}x"
        lines.append(
            f"| {name} | {unit} | {_fmt(rabbit)} | {_fmt(fake)} | "
            f"{f'{statistics.median(versus):.2f}x' if versus else '-'} | {scaled} |"
        )
    return "\n".join(lines)


def _fmt(values: Sequence[float]) -> str:
    return f"{statistics.median(values):,.0f}" if values else "-"


if __name__ == "__main__":
    sys.exit(main())
