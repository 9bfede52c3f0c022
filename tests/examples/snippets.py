"""Extracting and running the Python code samples of the documentation.

The convention in ``docs/*.rst``: every ``.. code-block:: python`` is preceded by
an RST comment naming it, ``.. snippet: <id>``, and ``tests/examples/
test_docs_snippets.py`` has a handler for every id that sets the sample up,
runs it against a broker and checks the result. A ``# prints: TEXT`` comment
at the end of a line states what that line prints (``...`` matches anything);
the printed lines must be exactly those, in order.

Samples are fragments (``await`` at the top level, ``conn``/``chan`` given) and
run as the body of a coroutine, or whole programs (``anyio.run(main)``) that
run in a subprocess. Names in samples read naturally (``"jobs"``); a handler
maps each quoted name to a unique one, so that runs against the shared RabbitMQ
never collide, and samples that connect to ``localhost:5672`` are pointed at
the broker under test.
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio

import async_amqp
from tests.support import BrokerTarget

DOCS = Path(__file__).resolve().parents[2] / "docs"
#: The documentation pages whose samples are ours to test (testing.rst has its own tests).
PAGES = ("index.rst", "quickstart.rst", "examples.rst", "api.rst")

_MARKER = re.compile(r"^\.\. snippet: (?P<id>[a-z0-9-]+)\s*$")
_CODE_BLOCK = re.compile(r"^(?P<indent>\s*)\.\. code-block:: (?P<language>\S+)\s*$")
_PRINTS = re.compile(r"#\s*prints:\s?(?P<text>.*)$")


@dataclass(frozen=True)
class Snippet:
    """One ``.. code-block:: python`` of the documentation."""

    id: str
    page: str
    line: int
    code: str

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def _block_after(lines: list[str], start: int, indent: str) -> tuple[str, int]:
    """Return the content of the directive starting at ``lines[start]``, and its first line."""
    index = start + 1
    while index < len(lines) and lines[index].strip().startswith(":"):
        index += 1  # directive options
    body: list[str] = []
    first = index + 1
    for line in lines[index:]:
        if line.strip() and not line.startswith(indent + " "):
            break
        body.append(line)
    return textwrap.dedent("\n".join(body)).strip("\n") + "\n", first


def collect() -> tuple[dict[str, Snippet], list[str]]:
    """Return the documentation's snippets by id, and the convention's violations."""
    snippets: dict[str, Snippet] = {}
    problems: list[str] = []
    for page in PAGES:
        path = DOCS / page
        if not path.exists():
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if re.match(r"^\s*\.\. (code|sourcecode)::", line):
                problems.append(f"docs/{page}:{number + 1}: use '.. code-block::'")
            match = _CODE_BLOCK.match(line)
            if match is None:
                continue
            language = match["language"]
            if language == "text":
                continue
            if language != "python":
                problems.append(f"docs/{page}:{number + 1}: code-block language {language!r}")
                continue
            previous = next((text for text in reversed(lines[:number]) if text.strip()), "")
            marker = _MARKER.match(previous)
            if marker is None:
                problems.append(f"docs/{page}:{number + 1}: python block without '.. snippet:'")
                continue
            code, first = _block_after(lines, number, match["indent"])
            snippet = Snippet(marker["id"], page, first, code)
            if snippet.id in snippets:
                problems.append(f"{snippet.where}: snippet id {snippet.id!r} used twice")
            snippets[snippet.id] = snippet
    return snippets, problems


def expected_prints(code: str) -> list[str]:
    """The ``# prints:`` texts of *code*, in order."""
    return [match["text"].rstrip() for match in map(_PRINTS.search, code.splitlines()) if match]


def assert_printed(printed: list[str], expected: list[str], where: str) -> None:
    """Assert that the printed lines are exactly the expected ones (``...``: anything)."""
    patterns = [".*".join(map(re.escape, text.split("..."))) for text in expected]
    ok = len(printed) == len(patterns) and all(
        re.fullmatch(pattern, line) for pattern, line in zip(patterns, printed, strict=True)
    )
    assert ok, f"{where}: printed {printed!r}, documented {expected!r}"


def substitute_names(code: str, names: Mapping[str, str]) -> str:
    """Replace each quoted name (``"jobs"`` or ``'jobs'``) by the quoted unique name."""
    for name, unique in names.items():
        code = code.replace(f'"{name}"', f'"{unique}"').replace(f"'{name}'", f"'{unique}'")
    return code


def substitute_broker(code: str, target: BrokerTarget) -> str:
    """Point a sample written for guest:guest@localhost:5672 at the broker under test."""
    options = async_amqp.parse_url(target.url)
    host, port = options["host"], options.get("port", 5672)
    login, password = options.get("login", "guest"), options.get("password", "guest")
    credentials = f"{quote(login, safe='')}:{quote(password, safe='')}"
    code = code.replace("guest:guest@localhost:5672", f"{credentials}@{host}:{port}")
    code = code.replace('"localhost", 5672', f'"{host}", {port}')
    code = code.replace('host="localhost"', f'host="{host}"').replace("port=5672", f"port={port}")
    code = code.replace('login="guest"', f"login={login!r}")
    code = code.replace('password="guest"', f"password={password!r}")
    return code.replace("connect_amqp()", f'connect_amqp("{host}", {port})')


@dataclass
class Run:
    """The outcome of running a fragment: what it printed and its local variables."""

    printed: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)


async def run_fragment(
    snippet: Snippet,
    *,
    names: Mapping[str, str] | None = None,
    broker: BrokerTarget | None = None,
    namespace: Mapping[str, Any] | None = None,
    on_print: Callable[[str], None] | None = None,
    check_prints: bool = True,
) -> Run:
    """Run a fragment as the body of a coroutine; return what it printed and its locals."""
    code = substitute_names(snippet.code, names or {})
    if broker is not None:
        code = substitute_broker(code, broker)
    run = Run()

    def record(*args: object, sep: str = " ", **_: object) -> None:
        text = sep.join(map(str, args))
        run.printed.append(text)
        if on_print is not None:
            on_print(text)

    source = "async def __snippet__():\n" + textwrap.indent(code + "return locals()\n", "    ")
    scope: dict[str, Any] = {
        "__name__": f"snippet_{snippet.id.replace('-', '_')}",
        "anyio": anyio,
        "async_amqp": async_amqp,
        "print": record,
        **(namespace or {}),
    }
    exec(compile(source, f"<{snippet.where} {snippet.id}>", "exec"), scope)
    run.variables = await scope["__snippet__"]()
    if check_prints:
        assert_printed(run.printed, expected_prints(code), snippet.where)
    return run


async def run_program(
    snippet: Snippet,
    backend: str,
    *,
    broker: BrokerTarget,
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """Run a whole-program sample in a subprocess on *backend*; return its output lines."""
    code = substitute_broker(substitute_names(snippet.code, names or {}), broker)
    assert "anyio.run(main)" in code, f"{snippet.where}: a program ends with anyio.run(main)"
    code = code.replace("anyio.run(main)", f"anyio.run(main, backend={backend!r})")
    with anyio.fail_after(60):
        completed = await anyio.run_process([sys.executable, "-c", code], check=False)
    stderr = completed.stderr.decode()
    assert completed.returncode == 0, f"{snippet.where}: exit {completed.returncode}\n{stderr}"
    assert stderr == "", stderr
    printed = completed.stdout.decode().splitlines()
    assert_printed(printed, expected_prints(code), snippet.where)
    return printed
