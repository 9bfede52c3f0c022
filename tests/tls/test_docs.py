"""Every Python example of docs/tls.rst runs, in a fresh process.

The page marks each example with ``.. tls-example: pytest`` (a test module, run by
pytest in an empty directory, as a user's project would) or ``.. tls-example:
program`` (a script, run with the interpreter, whose ``# prints: TEXT`` comments
state its output in order; ``...`` matches anything).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docpages import DOCS, marked_examples, run_example

PAGE = DOCS / "tls.rst"
EXAMPLES = marked_examples(PAGE, "tls-example")
_PRINTS = re.compile(r"#\s*prints:\s?(?P<text>.*)$")


def expected_output(code: str) -> list[re.Pattern[str]]:
    """The ``# prints:`` comments of a program, as patterns for its output lines."""
    patterns = []
    for line in code.splitlines():
        match = _PRINTS.search(line)
        if match is not None:
            pieces = [re.escape(piece) for piece in match["text"].strip().split("...")]
            patterns.append(re.compile(".*".join(pieces) + r"\Z"))
    return patterns


def test_every_python_block_is_an_example() -> None:
    blocks = PAGE.read_text(encoding="utf-8").count(".. code-block:: python")
    assert blocks == len(EXAMPLES) > 0


def test_the_page_is_in_the_toctree() -> None:
    index = PAGE.with_name("index.rst").read_text(encoding="utf-8")
    assert re.search(r"^   tls$", index, re.MULTILINE)


@pytest.mark.parametrize(
    ("kind", "line", "code"), EXAMPLES, ids=[f"line-{line}" for _, line, _ in EXAMPLES]
)
def test_example_runs(tmp_path: Path, kind: str, line: int, code: str) -> None:
    result = run_example(tmp_path, kind, code)
    where = f"docs/tls.rst:{line}"
    assert result.returncode == 0, f"{where}\n{result.stdout}\n{result.stderr}"
    if kind == "pytest":
        assert " passed" in result.stdout
        assert "failed" not in result.stdout
        assert "skipped" not in result.stdout
        return
    printed = result.stdout.splitlines()
    patterns = expected_output(code)
    assert len(printed) == len(patterns), f"{where}: printed {printed}"
    for text, pattern in zip(printed, patterns, strict=True):
        assert pattern.match(text), f"{where}: {text!r} does not match {pattern.pattern!r}"
