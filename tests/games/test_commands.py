"""Management commands: help, progress, summary lines, and a one-line reason on bad input."""
import io
import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from games.models import GameConfig, Tangram
from tests.fixtures import original_config, write_kilogram_folder

pytestmark = pytest.mark.django_db

def _project_commands() -> list[str]:
    from django.core.management import get_commands

    return sorted(name for name, app in get_commands().items() if app in ("games", "training", "feedback"))


COMMANDS = _project_commands()


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", COMMANDS)
def test_every_project_command_has_help(name):
    result = subprocess.run([sys.executable, "manage.py", name, "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "usage:" in result.stdout and len(result.stdout) > 300


def test_generate_tangrams_and_configs_end_to_end():
    out, _ = run("generate_tangrams", "--count", "100", "--seed", "2")
    assert out.strip() == "100 tangrams created (dev 10, test 45, train 45), 0 already present, 0 skipped"
    out, _ = run("generate_configs", "--count", "4", "--seed", "1")
    assert out.count("4 configs created") == 3
    assert GameConfig.objects.count() == 12
    out, _ = run("generate_configs", "--split", "dev", "--count", "4", "--seed", "1")
    assert "0 configs created" in out and "4 already present" in out


@pytest.mark.parametrize(
    "args, reason",
    [
        (["generate_tangrams", "--count", "0"], "--count must be at least 1"),
        (["generate_tangrams", "--split-fractions", "0.5,0.5"], "three comma-separated"),
        (["generate_tangrams", "--split-fractions", "0.5,0.5,0.5"], "add up to 1"),
        (["generate_configs", "--split", "dev"], "dev: the dev split has 0 tangrams"),
        (["generate_configs", "--target-weights", "7:1"], "target counts must be 3, 4 or 5"),
        (["import_tangrams", "/no/such/folder"], "does not exist"),
        (["import_configs", "/no/such/folder"], "does not exist"),
    ],
)
def test_bad_arguments_give_a_one_line_reason_and_change_nothing(args, reason):
    with pytest.raises(CommandError) as error:
        run(*args)
    assert reason in str(error.value) and "\n" not in str(error.value)
    assert Tangram.objects.count() == 0 and GameConfig.objects.count() == 0


def test_bad_input_exits_non_zero_from_the_shell(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "import_tangrams", str(tmp_path)], capture_output=True, text=True,
        env={**__import__("os").environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
    )
    assert result.returncode != 0
    assert "CommandError: no valid tangram SVGs" in result.stderr


def test_import_tangrams_reports_skipped_files_by_name(tmp_path):
    folder = write_kilogram_folder(tmp_path / "svgs", [f"page1-{i}" for i in range(12)])
    (folder / "junk.svg").write_text("not xml at all")
    out, err = run("import_tangrams", str(folder))
    assert "12 tangrams created" in out and "1 skipped" in out
    assert "skipped junk.svg:" in err
    with pytest.raises(CommandError, match="1 files skipped"):
        run("import_tangrams", str(folder), "--strict")


def test_import_tangrams_with_splits_file(tmp_path):
    folder = write_kilogram_folder(tmp_path / "svgs", ["a", "b"])
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"dev": ["a.svg"], "test": ["b"]}))
    run("import_tangrams", str(folder), "--splits", str(splits))
    assert dict(Tangram.objects.values_list("name", "split")) == {"a": "dev", "b": "test"}
    splits.write_text(json.dumps({"dev": ["a"], "test": ["a"]}))
    with pytest.raises(CommandError, match="both"):
        run("import_tangrams", str(folder), "--splits", str(splits))


def test_import_configs_command(tmp_path):
    folder = write_kilogram_folder(tmp_path / "svgs", [f"page2-{i}" for i in range(10)])
    run("import_tangrams", str(folder))
    games = tmp_path / "games"
    games.mkdir()
    names = [f"page2-{i}" for i in range(10)]
    (games / "game_json_0.json").write_text(original_config(names, 5, list(range(10)), list(range(9, -1, -1))))
    out, _ = run("import_configs", str(games))
    assert "1 configs created" in out
    assert GameConfig.objects.get().name == "games-game_json_0"


def test_check_workers_in_embedded_mode(settings):
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("this run uses a real broker (covered by tests/integration)")
    out, _ = run("check_workers")
    assert "eagerly" in out
