"""Every dependency earns its place, and every package the code imports is declared.

Read from pyproject.toml and from the source (AST), so a new import without its
requirement, or a requirement nothing uses any more, fails here and not on a user's
lean install.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOMS = ["data", "model", "train", "cli"]
# Requirements that no module imports by name, and why each is still needed.
NEEDED_WITHOUT_IMPORT = {
    "accelerate": "transformers' Trainer refuses to run without it (train/fit.py)",
    "pip-licenses": "run as `python -m piplicenses` by scripts/check_licences.py",
}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> dict[str, set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = {"default": {_name(r) for r in project["dependencies"]}}
    for extra, reqs in project["optional-dependencies"].items():
        groups[extra] = {_name(r) for r in reqs if not r.startswith("conflictclf")}
    return groups


def _imported(folders: list[str]) -> set[str]:
    """Top-level names of the third-party modules imported anywhere under `folders`."""
    names = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
                elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "importorskip"
                      and node.args and isinstance(node.args[0], ast.Constant)):
                    names.add(str(node.args[0].value).split(".")[0])  # pytest.importorskip("httpx")
    return {n for n in names if n not in sys.stdlib_module_names and n not in {"conflictclf", "tests", "__future__"}}


@functools.cache
def _owners() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    """Each module's distributions; one not installed here (tomli on Python 3.11+) by its own name."""
    return {m: {d.lower().replace("_", "-") for d in _owners().get(m, [m])} for m in modules}


def test_the_walks_find_something():
    declared = _declared()
    assert {"torch", "transformers", "platformdirs"} <= declared["default"] and "ray" in declared["ray"]
    assert {"torch", "transformers", "typer", "numpy"} <= _imported(PACKAGE_ROOMS)


def test_every_module_the_package_imports_is_a_declared_requirement():
    declared = _declared()
    default, optional = declared["default"], set().union(*(v for k, v in declared.items() if k != "default"))
    undeclared = {m: d for m, d in _distributions(_imported(PACKAGE_ROOMS)).items() if not d & (default | optional)}
    assert undeclared == {}


def test_every_requirement_is_imported_or_says_why_not():
    declared = set().union(*_declared().values())
    used = set().union(*_distributions(_imported([*PACKAGE_ROOMS, "scripts", "tests", "benchmarks"])).values())
    unused = sorted(declared - used - set(NEEDED_WITHOUT_IMPORT))
    assert unused == []
    # the reasons above name real requirements, not ones since removed
    assert set(NEEDED_WITHOUT_IMPORT) <= declared


def test_the_base_encoders_wheels_are_no_dependency():
    # their declared dependencies pulled in spaCy, AGPL PyMuPDF and ~100 other packages
    declared = set().union(*_declared().values())
    assert not {d for d in declared if "minilm" in d or "mpnet" in d}
