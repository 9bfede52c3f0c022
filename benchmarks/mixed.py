"""Mixed publishers: two fake brokers (a revision, the working tree) side by side.

    python benchmarks/mixed.py --base main [--pattern Lsssssssss --pattern LLLLs ...]

One async_amqp connection (asyncio) publishes ``--count`` messages whose bodies
follow a repeating pattern (``L``: 64 KiB, ``s``: 100 bytes) to a queue without
consumers, then polls a passive ``queue.declare`` until the queue holds them all.
The two brokers take turns (base first in even runs, new first in odd ones); each
line is the median of ``--runs`` runs: messages per second, and the broker's CPU
per message (its main thread, ``/proc/PID/schedstat``). This measures a stream
that mixes large and small publishes, where the fake broker switches between
copying reads and reading them in place (``async_amqp_testing/_arena.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import anyio

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import async_amqp
from benchmarks._fakebroker import FakeBrokerProcess
from benchmarks.fake_ab import cpu_ns, extract

BODIES = {"L": b"L" * 65536, "s": b"s" * 100}


async def publish_pattern(port: int, pid: int, pattern: str, count: int) -> tuple[float, float]:
    """One run: (messages per second, broker CPU µs per message)."""
    bodies = [BODIES[kind] for kind in pattern]
    async with (
        async_amqp.connect_amqp(host="127.0.0.1", port=port) as conn,
        conn.new_channel() as chan,
    ):
        queue = f"mixed-{pattern}"
        await chan.queue_declare(queue, arguments={"x-expires": 120_000})
        cpu_before, started = cpu_ns(pid), time.perf_counter()
        for index in range(count):
            await chan.publish(bodies[index % len(bodies)], "", queue)
        while (await chan.queue_declare(queue, passive=True))["message_count"] < count:
            pass
        elapsed, cpu = time.perf_counter() - started, cpu_ns(pid) - cpu_before
        await chan.queue_delete(queue)
    return count / elapsed, cpu / count / 1000


async def compare(
    base: FakeBrokerProcess, new: FakeBrokerProcess, args: argparse.Namespace
) -> None:
    for pattern in args.pattern:
        if not pattern or set(pattern) - set(BODIES):
            raise SystemExit(f"a pattern is made of L and s: {pattern!r}")
        results: dict[str, list[tuple[float, float]]] = {"base": [], "new": []}
        for run in range(args.runs):
            order = [("base", base), ("new", new)]
            for name, broker in order if run % 2 == 0 else order[::-1]:
                results[name].append(
                    await publish_pattern(broker.port, broker.pid, pattern, args.count)
                )
        for name, runs in results.items():
            rate = statistics.median(rate for rate, _ in runs)
            cpu = statistics.median(cpu for _, cpu in runs)
            print(f"{pattern:20s} {name:4s} {rate:9,.0f} msg/s  broker CPU {cpu:6.1f} µs/msg")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git revision of the base broker")
    parser.add_argument("--pattern", action="append", help="repeatable (default: four patterns)")
    parser.add_argument("--count", type=int, default=4000, help="messages per run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    args.pattern = args.pattern or ["Lsssssssss", "LLLLs", "L", "s"]
    with FakeBrokerProcess(pythonpath=extract(args.base)) as base, FakeBrokerProcess() as new:
        print(f"base: {args.base} (pid {base.pid}), new: working tree (pid {new.pid})")
        anyio.run(compare, base, new, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
