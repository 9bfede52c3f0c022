"""The layering rules of DESIGN.md that an import graph cannot check by itself.

``lint-imports`` (contracts in pyproject.toml) checks who imports whom. What it
cannot see: importing ``async_amqp._core`` first runs ``async_amqp/__init__.py``,
so a package ``__init__`` that imports the I/O layer would load anyio behind the
core's back. These tests import each core and broker-model module in a fresh
interpreter and check anyio stays out, check that the core's imports are the
standard library and pamqp only, and that the lazy package namespaces still
offer every public name.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _modules(package_dir: Path) -> list[str]:
    names = []
    for path in sorted(package_dir.glob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


CORE_MODULES = _modules(ROOT / "async_amqp" / "_core")
MODEL_MODULES = _modules(ROOT / "async_amqp_testing" / "_model")


@pytest.mark.parametrize("module", CORE_MODULES + MODEL_MODULES)
def test_importing_core_and_model_modules_loads_no_anyio(module: str) -> None:
    """A fresh interpreter that imports *module* has not loaded anyio (nor trio)."""
    code = (
        f"import {module}, sys; "
        "loaded = sorted(m for m in ('anyio', 'trio', 'sniffio') if m in sys.modules); "
        "assert not loaded, loaded"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr


def _imported_top_levels(path: Path) -> set[str]:
    """The top-level names of the absolute imports in *path* (relative ones excluded)."""
    tops: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            tops.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops


@pytest.mark.parametrize("path", sorted((ROOT / "async_amqp" / "_core").glob("*.py")), ids=str)
def test_core_imports_only_the_standard_library_and_pamqp(path: Path) -> None:
    """Every absolute import of a core module is the stdlib, pamqp or the core itself."""
    allowed = set(sys.stdlib_module_names) | {"pamqp", "__future__"}
    foreign = {top for top in _imported_top_levels(path) if top not in allowed}
    # The core may name itself absolutely (async_amqp._core...), never the rest of the package.
    text = path.read_text()
    assert not foreign - {"async_amqp"}, foreign
    if "async_amqp" in foreign:
        assert "import async_amqp\n" not in text
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                assert not node.module.startswith("async_amqp") or node.module.startswith(
                    "async_amqp._core"
                ), node.module


@pytest.mark.parametrize("name", ["async_amqp", "async_amqp_testing"])
def test_lazy_package_offers_every_public_name(name: str) -> None:
    """``from package import X`` and ``package.X`` work for all of ``__all__``."""
    code = (
        f"import {name} as package\n"
        "names = package.__all__\n"
        f"from {name} import *\n"
        "assert all(n in dir(package) for n in names)\n"
        "missing = [n for n in names if getattr(package, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert not hasattr(package, 'no_such_name')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr


def test_connect_is_connect_amqp() -> None:
    """The API document's ``connect`` stays the same function as ``connect_amqp``."""
    from async_amqp import connect, connect_amqp

    assert connect is connect_amqp


#: Modules whose only use is packing or unpacking bytes.
_BYTE_MODULES = frozenset({"struct", "array", "ctypes", "binascii", "codecs", "mmap"})
#: Names whose use means reading or making wire bytes by hand.
_BYTE_NAMES = frozenset(
    {
        "from_bytes",
        "to_bytes",
        "memoryview",
        "bytearray",
        "pack",
        "pack_into",
        "unpack",
        "unpack_from",
        "iter_unpack",
        "Struct",
    }
)


def _byte_work(path: Path) -> list[str]:
    """Signs of wire-byte work in a module: byte-codec imports, byte-level calls and
    byte literals that are not printable text (a header name like ``b"x-death"`` is)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            found += [f"{line}: import {a.name}" for a in node.names if a.name in _BYTE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module in _BYTE_MODULES:
            found.append(f"{line}: from {node.module} import")
        elif isinstance(node, ast.Name) and node.id in _BYTE_NAMES:
            found.append(f"{line}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in _BYTE_NAMES:
            found.append(f"{line}: .{node.attr}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, bytes)
            and not all(0x20 <= octet < 0x7F for octet in node.value)
        ):
            found.append(f"{line}: {node.value!r}")
    return found


@pytest.mark.parametrize(
    "path", sorted((ROOT / "async_amqp_testing" / "_model").glob("*.py")), ids=str
)
def test_the_broker_model_does_no_byte_work(path: Path) -> None:
    """``_core`` owns every byte: the broker model works on typed values and on the core's
    opaque property views, and never packs, unpacks or splices wire bytes itself."""
    assert _byte_work(path) == []


def test_the_byte_work_rule_sees_byte_work(tmp_path: Path) -> None:
    """The rule above catches each kind of byte work it looks for."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import struct\n"
        "from binascii import hexlify\n"
        "n = int.from_bytes(raw[0:2], 'big')\n"
        "view = memoryview(raw)\n"
        "word = struct.Struct('>H').pack(1)\n"
        "flags = b'\\x00\\x00'\n"
        "name = b'x-death'\n"
    )
    found = _byte_work(sample)
    assert sorted(int(entry.split(":")[0]) for entry in found) == [1, 2, 3, 4, 5, 5, 6]
