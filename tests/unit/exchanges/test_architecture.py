"""The sans-I/O rule, checked for every module under ``bridge/exchanges/`` (adapters added
later included): no sockets, clocks, event loop, logging side effects or metrics in protocol
code. Values from a clock are passed in; the session owns the I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bridge.exchanges

EXCHANGES_DIR = Path(bridge.exchanges.__file__).parent
FORBIDDEN = {"asyncio", "websockets", "time", "logging", "prometheus_client", "socket"}


def imported_top_level_names(path: Path) -> set[str]:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    return imported


MODULES = sorted(EXCHANGES_DIR.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.relative_to(EXCHANGES_DIR).as_posix())
def test_protocol_code_does_no_io(module: Path) -> None:
    assert not imported_top_level_names(module) & FORBIDDEN


def test_every_adapter_module_is_checked() -> None:
    names = {p.relative_to(EXCHANGES_DIR).as_posix() for p in MODULES}
    assert {"base.py", "events.py", "wire.py"} <= names
    for exchange in ("okx", "okex_v1", "kraken"):
        assert {f"{exchange}/__init__.py", f"{exchange}/adapter.py"} <= names
        assert f"{exchange}/payloads.py" in names
