"""The import contract: arrows between the apps point one way (DESIGN.md, "Apps and layers").

    games  <-  feedback  <-  training  <-  frontend / API

Every import counts: top-level, inside functions, under ``TYPE_CHECKING``. Tests and migrations
are left out; so is the project package ``respect_site`` from the cycle check (it routes to the
apps and holds the Celery app, as in cookiecutter-django). Pure modules (the games' and feedback's
domain modules, the simulated agents, their episode and in-memory driver) import no Django and nothing of an app but other pure modules.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "respect_site"
APPS = ("games", "feedback", "training", "frontend", "api", PROJECT)
# Who may import whom (besides itself). games and feedback declare ports that training implements.
ALLOWED = {
    "games": {PROJECT},
    "feedback": {"games", PROJECT},
    "training": {"games", "feedback", PROJECT},
    "frontend": {"games", "feedback", "training", PROJECT},
    "api": {"games", "feedback", "training", PROJECT},
    PROJECT: {"games", "feedback", "training", "frontend", "api"},
}
PURE = (
    "games/domain", "feedback/domain", "games/simulation/agents", "games/simulation/episode",
    "games/simulation/drivers/in_memory", "training/reporting",
)
FRAMEWORKS = ("django", "channels", "celery", "rest_framework", "daphne")


def imports_of(path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names imported from it) of every absolute import in a file, wherever it stands."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, tuple(alias.name for alias in node.names)))
    return found


def source_files(root: Path, apps=APPS):
    for app in apps:
        for path in sorted((root / app).rglob("*.py")):
            rel = path.relative_to(root)
            if "migrations" not in rel.parts:
                yield rel


def app_edges(root: Path) -> dict[tuple[str, str], str]:
    """(from app, to app) -> one place that imports so."""
    edges: dict[tuple[str, str], str] = {}
    for rel in source_files(root):
        for line, module, _ in imports_of(root / rel):
            target = module.split(".")[0]
            if target in APPS and target != rel.parts[0]:
                edges.setdefault((rel.parts[0], target), f"{rel}:{line} imports {module}")
    return edges


def forbidden_edges(edges) -> list[str]:
    return [f"{a} -> {b} ({where})" for (a, b), where in sorted(edges.items()) if b not in ALLOWED[a]]


def app_cycles(edges) -> list[str]:
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        if PROJECT not in (a, b):
            graph.setdefault(a, set()).add(b)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo += graph.get(node, ())
        return False

    return sorted(f"{a} -> {b} -> ... -> {a}" for a in graph for b in graph[a] if reaches(b, a))


def is_pure_module(module: str) -> bool:
    path = module.replace(".", "/")
    return any(path == p or path.startswith(p + "/") for p in PURE)


def is_package_above_pure(module: str) -> bool:
    """``games`` or ``games.simulation``: a package on the way to a pure one."""
    path = module.replace(".", "/")
    return any(p.startswith(path + "/") for p in PURE)


def impure_imports(root: Path) -> list[str]:
    """Imports of a framework, or of app code that is not pure, from a pure module."""
    bad = []
    for rel in source_files(root, apps=("games", "feedback")):
        if not is_pure_module(".".join(rel.with_suffix("").parts)):
            continue
        for line, module, names in imports_of(root / rel):
            top = module.split(".")[0]
            if top in FRAMEWORKS:
                bad.append(f"{rel}:{line} imports {module}")
            elif top in APPS and not is_pure_module(module):
                # ``from games.simulation import agents`` is fine; ``from games import selectors`` is not.
                wanted = [f"{module}.{n}" for n in names] if is_package_above_pure(module) else [module]
                bad += [f"{rel}:{line} imports {m}" for m in wanted if not is_pure_module(m)]
    return bad


# --- the contract on this project -----------------------------------------------------------------------


def test_no_app_imports_against_the_arrows():
    assert forbidden_edges(app_edges(ROOT)) == []


def test_there_is_no_cycle_between_apps():
    assert app_cycles(app_edges(ROOT)) == []


def test_pure_modules_import_no_django_and_no_impure_app_code():
    assert impure_imports(ROOT) == []


def test_the_pure_modules_exist():
    # A renamed module would make the purity check pass vacuously.
    for module in PURE:
        assert (ROOT / module / "__init__.py").is_file() or (ROOT / f"{module}.py").is_file(), module


# --- the checker itself finds what it must -------------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for app in APPS:
        (tmp_path / app).mkdir(exist_ok=True)
        (tmp_path / app / "__init__.py").write_text("")
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize("source", [
    "from training.models import PolicyCheckpoint\n",
    "def f():\n    from training import dispatch\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import training.policies.hf\n",
    "import feedback.models as fm\n",
])
def test_the_checker_catches_games_importing_an_app_above_it(tmp_path, source):
    root = _tree(tmp_path, {"games/services/play.py": source})
    assert [e.split(" (")[0] for e in forbidden_edges(app_edges(root))] in (["games -> training"], ["games -> feedback"])


def test_the_checker_catches_feedback_importing_training_and_cycles(tmp_path):
    root = _tree(tmp_path, {
        "feedback/decoders/prompted.py": "def load():\n    from training.policies import hf\n",
        "training/selectors.py": "from feedback.models import FeedbackLabel\n",
    })
    edges = app_edges(root)
    assert [e.split(" (")[0] for e in forbidden_edges(edges)] == ["feedback -> training"]
    assert app_cycles(edges) == ["feedback -> training -> ... -> feedback", "training -> feedback -> ... -> training"]


def test_the_checker_ignores_the_project_package_and_migrations(tmp_path):
    root = _tree(tmp_path, {
        "respect_site/urls.py": "import frontend.urls\nimport games.routing\n",
        "games/management/commands/x.py": "from respect_site.celery import app\n",
        "games/migrations/0001_initial.py": "import training.models\n",
    })
    edges = app_edges(root)
    assert forbidden_edges(edges) == [] and app_cycles(edges) == []


def test_the_checker_catches_django_in_pure_modules(tmp_path):
    root = _tree(tmp_path, {
        "games/domain/__init__.py": "",
        "games/domain/rules.py": "def f():\n    from django.conf import settings\n",
        "games/domain/ok.py": "from games.domain import rules\nimport numpy\n",
        "games/simulation/__init__.py": "",
        "games/simulation/agents/__init__.py": "",
        "games/simulation/agents/speaker.py": (
            "from games.models import Tangram\nfrom games.simulation.agents import x\n"
            "from games import selectors\nfrom games.simulation import agents\n"
        ),
    })
    assert impure_imports(root) == [
        "games/domain/rules.py:2 imports django.conf",
        "games/simulation/agents/speaker.py:1 imports games.models",
        "games/simulation/agents/speaker.py:3 imports games.selectors",
    ]
