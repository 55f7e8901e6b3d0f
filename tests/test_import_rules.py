"""The layers, checked on the source: who may import whom (docs/architecture.md, "Layers").

- ``steps/`` imports the step API (``releaser.api``) and nothing else of releaser;
- clients, the ledger, the UI, redaction and the memo never import the engine, the context
  or the commands (lower layers never import upward);
- no import cycles among releaser's and the steps' modules, imports inside functions
  included (imports under ``if TYPE_CHECKING:`` are for the type checker only).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("releaser", "steps")
LOWER = (
    "releaser.clients",
    "releaser.ledger",
    "releaser.ledger_store",
    "releaser.ui",
    "releaser.redact",
    "releaser.memo",
    "releaser.models",
    "releaser.forge",
    "releaser.errors",
    "releaser.secrets",
)
UPPER = ("releaser.engine", "releaser.context", "releaser.commands", "releaser.cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@cache
def imports(module: str) -> frozenset[str]:
    """Every module of ours ``module`` imports at run time (lazily too)."""
    path = modules()[module]
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    ours = modules()
    return frozenset(name for name in found if name in ours)


def test_the_rules_see_the_code() -> None:
    assert "releaser.api" in imports("steps.prepare")
    assert "steps" in imports("releaser.commands")  # make_context: a lazy import, seen


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.startswith("steps")))
def test_steps_import_only_the_step_api(module: str) -> None:
    allowed = {"releaser.api"}
    wrong = sorted(
        name for name in imports(module) if name.startswith("releaser") and name not in allowed
    )
    assert not wrong, f"{module} imports {wrong}: steps may use releaser.api only"


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.startswith(LOWER)))
def test_lower_layers_never_import_upward(module: str) -> None:
    wrong = sorted(
        name
        for name in imports(module)
        if any(name == up or name.startswith(up + ".") for up in (*UPPER, "steps"))
    )
    assert not wrong, f"{module} imports {wrong}"


def test_no_import_cycles() -> None:
    graph = {m: imports(m) for m in modules()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            # importing a package's submodule imports the package first; that is not a cycle
            if nxt == node or node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)
