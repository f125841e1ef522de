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


@pytest.mark.parametrize("module", sorted(EXCHANGES_DIR.glob("*.py")), ids=lambda p: p.name)
def test_protocol_code_does_no_io(module: Path) -> None:
    assert not imported_top_level_names(module) & FORBIDDEN


def test_every_adapter_module_is_checked() -> None:
    names = {p.stem for p in EXCHANGES_DIR.glob("*.py")}
    assert {"okx", "okex_v1", "kraken", "base", "events"} <= names
