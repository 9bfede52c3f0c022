"""Helpers for running the example scripts and checking what they print."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: The line ``_runner.with_broker`` prints when it starts an embedded fake broker.
EMBEDDED_BROKER_LINE = re.compile(
    r"\(no broker URL given: using an embedded fake broker at amqp://guest:guest@127\.0\.0\.1:\d+/\)"
)


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (its ``__main__`` block does not run)."""
    module_name = f"_example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def lit(text: str) -> str:
    """A pattern for a line that must be printed exactly."""
    return re.escape(text)


def assert_lines(output: str, patterns: list[str]) -> None:
    """Assert that *output* has exactly one line per pattern, in any order.

    Each pattern is a regular expression that must match a whole line; every
    printed line must be claimed by exactly one pattern.
    """
    lines = output.splitlines()
    unclaimed = list(lines)
    missing = []
    for pattern in patterns:
        for index, line in enumerate(unclaimed):
            if re.fullmatch(pattern, line):
                del unclaimed[index]
                break
        else:
            missing.append(pattern)
    report = f"expected: {patterns}\nwhole output:\n{output}"
    assert not missing, f"expected lines not printed: {missing}\n{report}"
    assert not unclaimed, f"unexpected lines: {unclaimed}\n{report}"
