"""Commands are glue over the library modules: no command imports another, nothing outside the
command line imports a command, and the modules of the commands and of Avro import at the top
(inside a function only for an optional dependency, which none of them has)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bridge

BRIDGE_DIR = Path(bridge.__file__).parent
COMMANDS_DIR = BRIDGE_DIR / "commands"
TOP_LEVEL_IMPORTS_ONLY = sorted(
    [*COMMANDS_DIR.glob("*.py"), *(BRIDGE_DIR / "avro").glob("*.py"), BRIDGE_DIR / "cli.py"]
)


def imported_modules(path: Path) -> set[str]:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    return imported


def is_command(module: str) -> bool:
    return module.startswith("bridge.commands.")


@pytest.mark.parametrize("module", sorted(COMMANDS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_command_imports_another(module: Path) -> None:
    assert not {m for m in imported_modules(module) if is_command(m)}


def test_only_the_command_line_imports_commands() -> None:
    importers = {
        path.relative_to(BRIDGE_DIR).as_posix()
        for path in BRIDGE_DIR.rglob("*.py")
        if path.parent != COMMANDS_DIR and any(map(is_command, imported_modules(path)))
    }
    assert importers == {"cli.py"}


@pytest.mark.parametrize(
    "module", TOP_LEVEL_IMPORTS_ONLY, ids=lambda p: p.relative_to(BRIDGE_DIR).as_posix()
)
def test_imports_are_at_the_top(module: Path) -> None:
    tree = ast.parse(module.read_text())
    nested = [
        node.lineno
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert nested == []
