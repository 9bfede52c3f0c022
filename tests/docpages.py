"""Running the marked Python examples of a documentation page, for the docs tests.

A page marks each example with ``.. NAME-example: pytest`` (a test module, run by
pytest in an empty directory as a user's project would) or ``.. NAME-example:
program`` (a script, run with the interpreter), followed by a python code block.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"

Example = tuple[str, int, str]
"""``(kind, line, code)``: "pytest" or "program", where its code starts, the code."""


def marked_examples(page: Path, marker: str) -> list[Example]:
    """Collect the examples of *page* marked ``.. {marker}: pytest|program``."""
    pattern = re.compile(rf"^\.\. {re.escape(marker)}: (?P<kind>pytest|program)\s*$")
    lines = page.read_text(encoding="utf-8").splitlines()
    examples = []
    for number, line in enumerate(lines):
        match = pattern.match(line)
        if match is None:
            continue
        start = next(
            i for i in range(number + 1, len(lines)) if lines[i].startswith(".. code-block::")
        )
        assert lines[start] == ".. code-block:: python", f"{page.name}:{start + 1}"
        body = []
        for text in lines[start + 1 :]:
            if text.strip() and not text.startswith("    "):
                break
            body.append(text)
        examples.append((match["kind"], start + 1, textwrap.dedent("\n".join(body)).strip()))
    return examples


def run_example(directory: Path, kind: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run one example in a fresh process inside the empty *directory*."""
    if kind == "pytest":
        (directory / "test_example.py").write_text(code + "\n")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    else:
        (directory / "example.py").write_text(code + "\n")
        command = [sys.executable, "example.py"]
    return subprocess.run(
        command, cwd=directory, capture_output=True, text=True, timeout=120, check=False
    )
