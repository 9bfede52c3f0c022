"""Profile one client in one scenario (setup and cleanup are not profiled).

    python benchmarks/profile_client.py consume-ack [--client async_amqp/trio]
        [--profiler py-spy|cprofile|pyinstrument|none] [--count N] [--top 25]

``py-spy`` (the default) samples the process from outside at 2 kHz without
pausing it, so the client runs at nearly full speed; only on-CPU samples
taken inside the measured run count. It prints the share of CPU time per
package (own time), the functions with the most own time, and the inclusive
share of the client's entry points. ``cprofile`` counts calls exactly but its
per-call overhead inflates small functions; ``pyinstrument`` prints a call
tree.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import SCENARIOS, Metrics, Params, Scenario, ScenarioFunction
from benchmarks.run import all_clients, describe, use_async_amqp_revision

#: Own-time groups, first match wins: (label, prefix of the code's file path as py-spy
#: shows it, or a fragment of the full path for cProfile).
GROUPS: tuple[tuple[str, str], ...] = (
    ("async_amqp._core.wire", "async_amqp/_core/wire.py"),
    ("async_amqp._core (other)", "async_amqp/_core/"),
    # A channel: _channel.py, _channel_core.py, _requests.py, _basic.py, _*_methods.py.
    ("async_amqp._channel", "async_amqp/_channel"),
    ("async_amqp._channel", "async_amqp/_requests.py"),
    ("async_amqp._channel", "async_amqp/_basic.py"),
    ("async_amqp._channel", "async_amqp/_queue_methods.py"),
    ("async_amqp._channel", "async_amqp/_exchange_methods.py"),
    ("async_amqp._connection", "async_amqp/_connection"),  # and _connection_events.py
    ("async_amqp._connection", "async_amqp/_port.py"),
    ("async_amqp._consuming", "async_amqp/_consuming.py"),
    ("async_amqp._messages", "async_amqp/_messages.py"),
    ("async_amqp._waiter", "async_amqp/_waiter.py"),
    ("async_amqp (other)", "async_amqp/"),
    ("pamqp", "pamqp/"),
    ("anyio", "anyio/"),
    ("sniffio", "sniffio/"),
    ("trio", "trio/"),
    ("asyncio", "asyncio/"),
    ("aiormq", "aiormq/"),
    ("aio_pika", "aio_pika/"),
    ("pika", "pika/"),
    ("benchmark code", "benchmarks/"),
    ("selectors", "selectors.py"),
)
#: The frame that marks samples taken inside the measured run.
MARKER = "_measured ("


def group_of(filename: str, function: str = "") -> str:
    for label, fragment in GROUPS:
        if filename.startswith(fragment) or f"/{fragment}" in filename:
            return label
    if filename == "~":  # cProfile's C functions: name them by what they do
        if any(word in function for word in ("socket", "send", "recv")):
            return "socket I/O (C)"
        if "select" in function or "poll" in function:
            return "selector wait (C)"
        return "builtins (C)"
    return "stdlib / other"


def _measured(run: ScenarioFunction, params: Params) -> Metrics:
    return run(params)


def setup(scenario: Scenario, params: Params) -> tuple[Params, list[str]]:
    from benchmarks import _admin

    queue = f"bench.profile.{scenario.name}.{uuid.uuid4().hex[:8]}"
    params = replace(params, queue=queue)
    queues = [queue]
    if scenario.needs_reply_queue:
        params = replace(params, reply_queue=queue + ".reply")
        queues.append(params.reply_queue)
    _admin.declare_queues(params, queues, prefill=params.count if scenario.prefill else 0)
    return params, queues


# -- cProfile -------------------------------------------------------------------------


def _short(filename: str) -> str:
    """A path from its package down (``async_amqp/_core/wire.py``, ``asyncio/events.py``)."""
    if "/async_amqp/" in filename:
        return "async_amqp/" + filename.rsplit("/async_amqp/", 1)[1]
    for marker in ("site-packages/", "/lib/python3", "/work/main/"):
        if marker in filename:
            rest = filename.split(marker, 1)[1]
            return rest.split("/", 1)[1] if marker == "/lib/python3" else rest
    return filename


def print_cprofile(
    stats: pstats.Stats, operations: int, top: int, out: Callable[[str], None]
) -> None:
    """Own time per package, then the top functions with their calls per operation."""
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw = stats.stats  # type: ignore[attr-defined]  # undocumented; not in typeshed
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, function), (_cc, _nc, own, _cumulative, _callers) in raw.items():
        totals[group_of(filename, function)] += own
    total = sum(totals.values()) or 1.0
    out("own time by package (cProfile):")
    for label, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        out(f"  {label:<28} {100 * seconds / total:5.1f} %")
    out(f"\ntop {top} functions by own time (calls per message/round trip/cycle):")
    out(f"  {'own %':>6} {'cum %':>6} {'calls/op':>9}  function")
    ranked = sorted(raw.items(), key=lambda item: -item[1][2])
    for (filename, line, function), (_cc, calls, own, cumulative, _callers) in ranked[:top]:
        where = f"{function} ({_short(filename)}:{line})" if filename != "~" else function
        out(
            f"  {100 * own / total:6.1f} {100 * cumulative / total:6.1f} "
            f"{calls / operations:9.2f}  {where}"
        )


# -- py-spy ----------------------------------------------------------------------------


def _stacks(path: Path) -> Iterator[tuple[list[str], int]]:
    """``(frames root first, samples)`` of the measured run from py-spy's raw output."""
    with path.open() as raw:
        for text in raw:
            stack, _, count = text.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            for index, frame in enumerate(frames):
                if frame.startswith(MARKER):
                    yield frames[index + 1 :], int(count)
                    break


def _file_of(frame: str) -> str:
    """``'receive (async_amqp/_core/client.py:457)'`` -> ``'async_amqp/_core/client.py'``."""
    inside = frame[frame.rfind("(") + 1 : -1]
    return inside.rpartition(":")[0]


def _function_of(frame: str) -> str:
    """The frame without its line number: ``'receive (async_amqp/_core/client.py)'``."""
    name, _, where = frame.rpartition(" (")
    return f"{name} ({where[:-1].rpartition(':')[0]})"


def summarise_py_spy(path: Path, top: int, out: Callable[[str], None]) -> None:
    own_groups: Counter[str] = Counter()
    own_functions: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for frames, count in _stacks(path):
        total += count
        if not frames:
            continue
        leaf = frames[-1]
        own_groups[group_of(_file_of(leaf))] += count
        own_functions[_function_of(leaf)] += count
        for function in {_function_of(frame) for frame in frames}:
            inclusive[function] += count
    if not total:
        out("no samples inside the measured run")
        return
    out(f"{total} on-CPU samples inside the measured run\n")
    out("own time by package:")
    for label, count in own_groups.most_common():
        out(f"  {label:<28} {100 * count / total:5.1f} %")
    out(f"\ntop {top} functions by own time:")
    for function, count in own_functions.most_common(top):
        out(f"  {100 * count / total:5.1f} %  {function}")
    out(f"\ntop {top} async_amqp / pamqp functions by inclusive time:")
    ours = [
        (function, count)
        for function, count in inclusive.most_common()
        if "async_amqp/" in function or "pamqp/" in function
    ]
    for function, count in ours[:top]:
        out(f"  {100 * count / total:5.1f} %  {function}")


def run_under_py_spy(argv: Sequence[str], top: int, rate: int) -> int:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not os.path.exists(py_spy):
        raise SystemExit("py-spy is not installed: pip install py-spy")
    with tempfile.TemporaryDirectory() as directory:
        output = Path(directory) / "stacks.txt"
        command = [
            py_spy,
            "record",
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            str(output),
            "--",
            sys.executable,
            str(Path(__file__).resolve()),
            *argv,
            "--profiler",
            "none",
        ]
        completed = subprocess.run(command, stderr=subprocess.DEVNULL, check=False)
        if completed.returncode != 0 or not output.exists():
            return completed.returncode or 1
        summarise_py_spy(output, top, print)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=[scenario.name for scenario in SCENARIOS])
    parser.add_argument("--client", default="async_amqp/asyncio")
    parser.add_argument(
        "--profiler", choices=("py-spy", "cprofile", "pyinstrument", "none"), default="py-spy"
    )
    parser.add_argument("--count", type=int, help="override the scenario's count")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--rate", type=int, default=2000, help="py-spy samples per second")
    parser.add_argument(
        "--show-all", action="store_true", help="pyinstrument: show library frames too"
    )
    parser.add_argument("--rev", metavar="GIT_REV", help="profile async_amqp as of this revision")
    args = parser.parse_args(argv)
    if args.profiler == "py-spy":
        passed = [args.scenario, "--client", args.client]
        if args.count is not None:
            passed += ["--count", str(args.count)]
        if args.rev is not None:
            passed += ["--rev", args.rev]
        return run_under_py_spy(passed, args.top, args.rate)
    print(f"async_amqp: {use_async_amqp_revision(args.rev)}")
    from benchmarks import _admin

    scenario = next(s for s in SCENARIOS if s.name == args.scenario)
    client = next(c for c in all_clients() if c.name == args.client)
    run = client.kinds[scenario.kind]
    params = scenario.full if args.count is None else replace(scenario.full, count=args.count)

    warm, queues = setup(scenario, params.scaled(0.1))
    try:
        run(warm)
    finally:
        _admin.delete_queues(warm, queues)

    params, queues = setup(scenario, params)
    try:
        metrics: Metrics
        if args.profiler == "cprofile":
            profiler = cProfile.Profile()
            metrics = profiler.runcall(_measured, run, params)
            print_cprofile(pstats.Stats(profiler), params.count, args.top, print)
        elif args.profiler == "pyinstrument":
            from pyinstrument import Profiler

            sampler = Profiler(interval=0.0002)
            sampler.start()
            try:
                metrics = _measured(run, params)
            finally:
                sampler.stop()
            print(sampler.output_text(unicode=True, color=False, show_all=args.show_all))
        else:
            metrics = _measured(run, params)
    finally:
        _admin.delete_queues(params, queues)
    print(f"{client.name} {scenario.name} ({args.profiler}): {describe(scenario, metrics)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
