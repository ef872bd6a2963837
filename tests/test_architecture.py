"""The package's structure, checked from its source: imports point one way.

docs/architecture.md draws the packages; these tests hold the code to that drawing. They
read imports with ``ast`` (nothing is imported), skipping ``if TYPE_CHECKING:`` blocks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "otp_service"

# Entry points: what runs a module without another module importing it.
ENTRY_POINTS = {
    "otp_service.cli",  # [project.scripts] otp-service
    "otp_service.gunicorn_conf",  # gunicorn -c python:otp_service.gunicorn_conf
    "otp_service.sandbox.__main__",  # python -m otp_service.sandbox
}
# Modules that may import inside a function, and why (cli: start-up stays cheap for
# `serve`, which starts redis-server and the sandbox before gunicorn loads the app).
LAZY_IMPORTS_ALLOWED = {
    "otp_service": "create_app and build_services load the service on first use",
    "otp_service.cli": "each command imports what it needs: `--help` loads nothing",
    "otp_service.gunicorn_conf": "prometheus_client after PROMETHEUS_MULTIPROC_DIR is set",
}
# Packages each package may import (besides itself and the small shared modules).
SHARED = {
    "otp_service.errors",
    "otp_service.phones",
    "otp_service.keywords",
    "otp_service.timefmt",
    "otp_service.ids",
    "otp_service.metrics",
    "otp_service.logs",
    "otp_service.config",
    "otp_service.sealing",
}
MAY_IMPORT = {
    "otp_service.telnyx": set(),
    "otp_service.sandbox": {"otp_service.telnyx"},
    "otp_service.store": set(),
    "otp_service.delivery": {"otp_service.telnyx"},
    "otp_service.verification": {
        "otp_service.store",
        "otp_service.delivery",
        "otp_service.profiles.settings",  # a profile's settings, a value
    },
    "otp_service.factors": {"otp_service.store"},
    "otp_service.inbound": {"otp_service.store"},
    "otp_service.admin": {"otp_service.store", "otp_service.telnyx"},
    # the segment check and the message text of a preview are delivery/templates.py's
    "otp_service.profiles": {"otp_service.store", "otp_service.delivery"},
    # the API objects its events carry are rendered by a function services.py gives it
    "otp_service.events": {"otp_service.store"},
    # a send's sender (delivery's SenderInfo) is part of a history record and a route
    "otp_service.history": {"otp_service.store", "otp_service.delivery"},
    # the console: pages over the admin services (sessions among them), with the API's own
    # key check and helpers; the opt-out sources from the store, as api/query.py takes them.
    # Not profiles/ or verification/ directly: ProfileService comes through services().
    # HistoryService and EndpointService come through services() too; of their packages
    # only two tuples of names, as api/history.py takes them: the statuses a search
    # filters on and the event types an endpoint subscribes to.
    "otp_service.api.console": {
        "otp_service.api",
        "otp_service.admin",
        "otp_service.store.optouts",
        "otp_service.history.service",
        "otp_service.events.catalog",
    },
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def _runtime_nodes(tree: ast.Module) -> Iterator[tuple[ast.AST, bool]]:
    """Every import node with whether it is at module level, TYPE_CHECKING blocks left out."""

    def walk(node: ast.AST, top: bool) -> Iterator[tuple[ast.AST, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, top
            inner = top and not isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            yield from walk(child, inner)

    yield from walk(tree, True)


def imports_of(name: str) -> Iterator[tuple[str, bool]]:
    """(imported module of ours, at module level) for each import in module ``name``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    for node, top in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            assert isinstance(node, ast.ImportFrom)
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import sub` imports the submodule; other names come from pkg itself
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        for target in targets:
            if target in MODULES:
                yield target, top


GRAPH = {name: {target for target, _top in imports_of(name)} - {name} for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    assert cycles(GRAPH) == []


def test_imports_inside_functions_only_where_start_up_needs_them():
    lazy = sorted(
        f"{name} imports {target}"
        for name in MODULES
        if name not in LAZY_IMPORTS_ALLOWED
        for target, top in imports_of(name)
        if not top
    )
    assert lazy == []


def test_every_module_is_used_by_the_product_not_only_by_tests():
    reached: set[str] = set()
    todo = [*ENTRY_POINTS, "otp_service"]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        todo.extend(GRAPH[name])
        # importing a.b.c runs a/__init__ and a/b/__init__ first
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
    assert sorted(set(MODULES) - reached) == []


def _package_of(name: str) -> str | None:
    for package in MAY_IMPORT:
        if name == package or name.startswith(package + "."):
            return package
    return None


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_imports_point_one_way(package):
    """api → services (verification, factors, inbound, admin) → store / delivery → telnyx;
    the sandbox and the adapter import nothing of the service."""
    allowed = MAY_IMPORT[package] | {package}
    if package not in ("otp_service.telnyx", "otp_service.sandbox"):
        allowed |= SHARED
    wrong = sorted(
        f"{name} imports {target}"
        for name in MODULES
        if _package_of(name) == package
        for target in GRAPH[name]
        if target != "otp_service"
        and not any(target == a or target.startswith(a + ".") for a in allowed)
    )
    # the sandbox signs its webhooks with the adapter's code: that one module only
    if package == "otp_service.sandbox":
        wrong = [line for line in wrong if not line.endswith("otp_service.telnyx.webhooks")]
    assert wrong == []


def test_only_the_api_package_knows_flask_and_marshmallow():
    knowing = sorted(
        name
        for name in MODULES
        if not name.startswith(("otp_service.api", "otp_service.sandbox"))
        for node, _top in _runtime_nodes(ast.parse(MODULES[name].read_text()))
        for root in _roots(node)
        if root in ("flask", "werkzeug", "marshmallow")
    )
    assert knowing == []


def _roots(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    return [(node.module or "").split(".")[0]] if not node.level else []
