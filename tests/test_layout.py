"""The house rules that keep the package easy to live in, checked on the source itself.

Rooms, lowest first: data < model < train < cli. A room never imports a higher one, no
modules import each other in a circle, no module passes 300 lines and no function 60.
Imports under `if TYPE_CHECKING:` are for type checkers only and never run, so they do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ["data", "model", "train", "cli"]


def _modules() -> dict[str, Path]:
    mods = {}
    for room in ROOMS:
        for f in (ROOT / room).rglob("*.py"):
            name = "conflictclf." + ".".join(f.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = f
    return mods


def _imports(tree: ast.AST, known: dict[str, Path]) -> set[str]:
    typing_only = {id(n) for t in ast.walk(tree)
                   if isinstance(t, ast.If) and getattr(t.test, "id", "") == "TYPE_CHECKING" for n in ast.walk(t)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        for target in [node.module, *(f"{node.module}.{a.name}" for a in node.names)]:
            if target in known:
                found.add(target)
    return found


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}
EDGES = {name: _imports(tree, MODULES) - {name} for name, tree in TREES.items()}


def _room(module: str) -> int:
    return ROOMS.index(module.split(".")[1])


def test_the_rooms_are_found():
    # a broken walk would make every check below pass vacuously
    assert len(MODULES) > 40 and "conflictclf.model.classifier" in MODULES
    assert sum(len(e) for e in EDGES.values()) > 100


def test_no_room_imports_a_higher_one():
    upward = sorted((a, b) for a, targets in EDGES.items() for b in targets if _room(b) > _room(a))
    assert upward == []


def test_no_import_circles():
    seen_cycles = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in EDGES.get(node, ()):
            if state.get(nxt) == 1:
                seen_cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in MODULES:
        if module not in state:
            visit(module, [module])
    assert seen_cycles == []


def test_modules_and_functions_stay_small():
    big = [(str(MODULES[n]), len(MODULES[n].read_text(encoding="utf-8").splitlines())) for n in MODULES]
    long_functions = [(str(MODULES[n]), f.name, f.end_lineno - f.lineno + 1) for n, tree in TREES.items()
                      for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and f.end_lineno - f.lineno + 1 > 60]
    assert [b for b in big if b[1] > 300] == []
    assert long_functions == []
