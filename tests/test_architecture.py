"""The rules of docs/architecture.md that the code's shape must keep, read from the source
(no imports are executed): one writer of a run's status, one reader of the checkpoint, an
engine and a Graph client that import no UI, a sandbox that shares no code with the app, no
import cycles in pages/, and modules of a readable size."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("fbsync", "pages", "conversations", "graph_sandbox")
UI_MODULES = (
    "pages.views",
    "pages.admin",
    "pages.panel",
    "pages.progress",
    "pages.streams",
    "pages.harness",
    "pages.tasks",
    "pages.schedule",
    "pages.connect",
    "django.template",
    "django.shortcuts",
    "django.http",
    "django_htmx",
    "django_eventstream",
)
MAX_MODULE_LINES = 420


def app_modules(*roots: str) -> list[Path]:
    return sorted(
        path
        for root in roots
        for path in (ROOT / root).rglob("*.py")
        if "migrations" not in path.parts
    )


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (`from a.b import c` counts as a.b and a.b.c)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_only_the_run_state_machine_writes_a_runs_status():
    writes = re.compile(r"status=SyncRun\.Status|\.status = |\.update\(status=")
    offenders = [
        f"{relative(path)}:{number}"
        for path in app_modules("pages", "conversations", "fbsync")
        if relative(path) != "pages/sync/runs.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if writes.search(line)
    ]
    assert offenders == []


def test_only_the_checkpoint_module_reads_the_saved_checkpoint():
    offenders = []
    for path in app_modules(*APPS):
        if relative(path) in ("pages/sync/checkpoint.py", "pages/models.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "sync_checkpoint":
                offenders.append(f"{relative(path)}:{node.lineno}")
    for template in (ROOT / "templates").rglob("*.html"):
        if "sync_checkpoint" in template.read_text():
            offenders.append(relative(template))
    assert offenders == []


@pytest.mark.parametrize("package", ["pages/sync", "pages/graph"])
def test_the_engine_and_the_graph_client_import_no_ui(package):
    offenders = {
        relative(path): sorted(
            name for name in imported_modules(path) if name.startswith(UI_MODULES)
        )
        for path in app_modules(package)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_sandbox_shares_no_code_with_the_app():
    offenders = {
        relative(path): sorted(
            name
            for name in imported_modules(path)
            if name.split(".")[0] in ("pages", "conversations", "fbsync")
        )
        for path in app_modules("graph_sandbox")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_import_graph_of_pages_has_no_cycle():
    modules = {module_name(path): path for path in app_modules("pages")}
    edges = {
        name: {other for other in imported_modules(path) if other in modules and other != name}
        for name, path in modules.items()
    }
    visiting, done = set(), set()

    def visit(name: str, trail: list[str]) -> None:
        if name in done:
            return
        assert name not in visiting, "import cycle: " + " → ".join([*trail, name])
        visiting.add(name)
        for other in sorted(edges[name]):
            visit(other, [*trail, name])
        visiting.discard(name)
        done.add(name)

    for name in sorted(modules):
        visit(name, [])


def test_modules_stay_readable_in_size():
    too_long = {
        relative(path): lines
        for path in app_modules(*APPS)
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}
