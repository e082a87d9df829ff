"""The layers below the services import only downwards: records → search → storage (node/storage is the bottom:
database, tables), so that the package tree shows the architecture and no import has to hide inside a function.

Read from the source (every ``import`` statement, at any depth), not from what happens to be loaded."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

NODE = Path(__file__).parents[2] / "node"

# package -> node packages it must never import (the layers above it)
FORBIDDEN = {
    "storage": ("node.search", "node.records", "node.services", "node.http", "node.web"),
    "search": ("node.records", "node.services", "node.http", "node.web"),
    "records": ("node.services", "node.http", "node.web"),
}


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, inside a function) of every import of a module file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.lineno, child.module, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports_only_downwards(package: str) -> None:
    bad = [
        f"{path.relative_to(NODE.parent)}:{line} imports {module}" + (" (inside a function)" if inner else "")
        for path in sorted((NODE / package).glob("*.py"))
        for line, module, inner in _imports(path)
        if module.startswith(FORBIDDEN[package]) or (inner and module.startswith("node."))
    ]
    assert bad == []
