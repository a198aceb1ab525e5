"""The packages depend on each other one way (docs/ARCHITECTURE.md). These tests read every
import in services/, workflows/ and activities/, at module level or inside a function, and fail
on an import circle or an import against the direction of the layers."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "workflows", "activities")
MAX_MODULE_LINES = 300

SHARED_SERVICES = (
    "services.settings",
    "services.agent_specs",
    "services.agent_catalog",
    "services.mcp_servers",  # the MCP servers of settings, opened (gateway and workers)
    "services.key_service",
    "services.roles",
    "services.temporal_client",
    "services.pools",
    "services.model_groups",
    "services.duration",
    "services.agent_spec_limits",
    "services.agent_spec_approvals",
    "services.agent_spec_calls",
    "services.metrics_access",  # who may read /metrics (gateway and workers)
    "services.temporal_metrics",  # the Temporal SDK's metrics, on a loopback port
)
ACTIVITY_CLASSES = (  # what workflows name activities by (method references only)
    "activities.answer_checks",
    "activities.lifecycle",
    "activities.llm",
    "activities.tool_calls",
    "activities.approvals",
    "activities.memory",
    "activities.delegation",
)

# Who may import what: (importing module's prefix, prefixes it may import). The first rule
# whose prefix matches the importing module applies, so the narrower rules come first.
ALLOWED: list[tuple[str, tuple[str, ...]]] = [
    ("workflows.contracts", ("workflows.contracts",)),
    ("workflows", ("workflows", *ACTIVITY_CLASSES)),
    ("activities.db", ("activities.db", "workflows.contracts")),
    ("activities.tools.catalog", ()),
    ("activities.tools.builtin", ("activities.tools.errors", "activities.tools.context")),
    (
        "activities.tools.workspace",
        ("activities.tools.errors", "activities.tools.context", "activities.tools.paths"),
    ),
    ("activities.tools.paths", ("activities.tools.errors",)),
    ("activities.tools.context", ("activities.tools.errors",)),
    ("activities.tools.delegate", ("activities.tools.errors",)),
    ("activities", ("activities", "workflows.contracts")),
    (
        "services.gateway",
        (
            "services.gateway",
            *SHARED_SERVICES,
            "activities.db",
            "activities.tools.catalog",
            "activities.skills",  # skills checked in specs, and chosen for a task at submit
            "activities.tools.mcp.listing",  # MCP servers' tools, listed to check agent specs
            "activities.tools.mcp.servers",
            "activities.tools.mcp.connection",
            "activities.tools.paths",  # a submit's files are judged as the file tools judge
            "activities.tools.errors",
            "activities.token_counts",  # inputs too long for their model are refused at submit
            "workflows.contracts",
        ),
    ),
    ("services.worker", ("services.worker", *SHARED_SERVICES, "activities", "workflows")),
    (
        "services.devstack",
        ("services.devstack", *SHARED_SERVICES, "activities.db", "workflows.contracts"),
    ),
    (
        "services.cli",
        (
            "services.cli",
            "services.devstack",
            "services.worker",
            *SHARED_SERVICES,
            "activities.db",
            "workflows.contracts",
        ),
    ),
    (
        "services",
        (
            *SHARED_SERVICES,
            "activities.db",
            "activities.tools.catalog",
            "activities.tools.mcp.listing",
            "activities.tools.mcp.servers",
            "activities.skills.library",  # the skills an agent spec names
            "activities.http_urls",  # what a spec's webhook URL may be
            "workflows.contracts",
        ),
    ),
]


@cache
def project_modules() -> dict[str, Path]:
    """Module name → file, for every module of the three packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST, runtime_only: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement below `node`; with `runtime_only`, not those that only type
    checkers see (`if TYPE_CHECKING:`)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif not (runtime_only and _is_type_checking(child)):
            yield from _import_nodes(child, runtime_only)


@cache
def imports_of(module: str, runtime_only: bool = False) -> frozenset[str]:
    """The project modules `module` imports (`from package import name` counts as importing
    the module `package.name` when there is one, else `package`)."""
    modules = project_modules()
    path = modules[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8")), runtime_only):
        if isinstance(node, ast.Import):
            candidates = [[alias.name] for alias in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative: from the package, `level - 1` packages up
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            candidates = [[f"{base}.{alias.name}", base] for alias in node.names]
        for names in candidates:
            found.update(next(([n] for n in names if n in modules), []))
    return frozenset(found - {module})


def test_the_packages_hold_modules() -> None:
    assert "services.gateway.app" in project_modules()
    assert "workflows.contracts.tasks" in project_modules()
    assert "services.gateway.deps" in imports_of("services.gateway.routes.tasks")


def test_no_import_circle() -> None:
    """Tarjan's strongly connected components over runtime imports: any with more than one
    module is a circle."""
    graph = {module: imports_of(module, runtime_only=True) for module in project_modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert circles == [], f"modules importing each other in a circle: {circles}"


def _rule(module: str) -> tuple[str, tuple[str, ...]]:
    return next((p, allowed) for p, allowed in ALLOWED if _under(module, p))


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_imports_follow_the_layers() -> None:
    wrong = []
    for module in sorted(project_modules()):
        _, allowed = _rule(module)
        for imported in sorted(imports_of(module)):
            if not any(_under(imported, prefix) for prefix in allowed):
                wrong.append(f"{module} imports {imported}")
    assert wrong == [], "imports against the layers (docs/ARCHITECTURE.md):\n" + "\n".join(wrong)


def test_a_layer_violation_is_caught() -> None:
    """The rules themselves: the gateway may not reach workflow code or tool implementations."""
    prefix, allowed = _rule("services.gateway.routes.tasks")
    assert prefix == "services.gateway"
    assert not any(_under("workflows.agent_task", a) for a in allowed)
    assert not any(_under("activities.tools.registry", a) for a in allowed)
    assert not any(_under("services.cli.main", a) for a in _rule("services.devstack.supervisor")[1])


def test_the_gateway_loads_no_tool_implementation() -> None:
    """Its app, imported in a fresh interpreter, loads the tool catalog, the workspace path
    rules and the contracts and nothing else of activities/tools or workflows."""
    code = (
        "import json, sys, services.gateway.app;"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.startswith(('activities.tools', 'workflows')))))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(shown.stdout)
    assert "activities.tools.catalog" in loaded
    expected = (
        "activities.tools.catalog", "activities.tools.paths", "activities.tools.errors",
        "activities.tools.mcp.listing", "activities.tools.mcp.servers",
        "activities.tools.mcp.connection", "workflows.contracts",
    )  # fmt: skip
    others = [m for m in loaded if not m.startswith(expected)]
    # the packages' __init__
    assert others == ["activities.tools", "activities.tools.mcp", "workflows"], loaded


@pytest.mark.parametrize("module", sorted(project_modules()))
def test_modules_stay_short(module: str) -> None:
    lines = len(project_modules()[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines; split it by concept"
