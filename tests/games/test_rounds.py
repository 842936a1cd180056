"""Systems and rounds (games.services.rounds) and their management commands."""
import io
from datetime import timedelta

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.utils import timezone

from games.models import Deployment, Interaction, Round, RoundConfig, System
from games.services.rounds import RoundError, create_system, launch_round
from tests.factories import CheckpointFactory
from tests.games.play_support import start

pytestmark = pytest.mark.django_db


def counts():
    return (Round.objects.count(), RoundConfig.objects.count(), Deployment.objects.count(), System.objects.count())


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- create_system -----------------------------------------------------------------------------------------


def test_create_system_is_idempotent_for_the_same_definition():
    first = create_system("B-SUP", listener_kind="model", decoder="binary", objective="sup", description="d")
    again = create_system("B-SUP", listener_kind="model", decoder="binary", objective="sup")
    assert first.pk == again.pk and System.objects.count() == 1
    assert (first.listener_kind, first.decoder, first.objective, first.description) == ("model", "binary", "sup", "d")


@pytest.mark.parametrize("name, kwargs, message", [
    ("X", {"listener_kind": "robot"}, "listener_kind must be one of"),
    ("X", {"listener_kind": "model", "decoder": "magic"}, "decoder must be one of"),
    ("X", {"listener_kind": "model", "objective": "dpo", "decoder": "binary"}, "objective must be one of"),
    ("X", {"listener_kind": "model", "objective": "sup"}, "needs a feedback decoder"),
    ("bad name", {"listener_kind": "oracle"}, "name"),
    ("-dash", {"listener_kind": "oracle"}, "name"),
    ("", {"listener_kind": "oracle"}, "name"),
    ("N" * 41, {"listener_kind": "oracle"}, "name"),
])
def test_create_system_refuses_bad_definitions_and_creates_nothing(name, kwargs, message):
    with pytest.raises(RoundError, match=message):
        create_system(name, **kwargs)
    assert not System.objects.exists()


def test_a_different_system_with_a_taken_name_is_refused():
    create_system("HH", listener_kind="human")
    with pytest.raises(RoundError, match="already exists"):
        create_system("HH", listener_kind="oracle")
    assert System.objects.get().listener_kind == "human"


# --- launch_round --------------------------------------------------------------------------------------------


@pytest.fixture
def systems(game_library):
    create_system("ORACLE", listener_kind="oracle")
    create_system("HH", listener_kind="human")
    create_system("B-SUP", listener_kind="model", decoder="binary", objective="sup")


@pytest.fixture
def model_files(settings):
    """A base-model folder where CheckpointFactory's default points (models/tiny under DATA_DIR)."""
    folder = settings.DATA_DIR / "models" / "tiny"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


def test_launch_round_opens_a_round_with_a_shared_queue_and_one_deployment_per_system(systems, model_files):
    checkpoint = CheckpointFactory()
    study = launch_round(systems=[("ORACLE", None), ("B-SUP", checkpoint.pk)], queue_size=4, seed=3,
                         settings={"timing": {"speaker_seconds": 40}})
    assert (study.number, study.status) == (1, "open") and study.opened_at
    assert study.settings["timing"]["speaker_seconds"] == 40.0 and study.settings["pay"]["success_bonus"] == "0.50"
    queue = list(study.queue.order_by("position").values_list("position", "config__split"))
    assert queue == [(0, "train"), (1, "train"), (2, "train"), (3, "train")]
    deployments = {d.system.name: d for d in study.deployments.select_related("system")}
    assert set(deployments) == {"ORACLE", "B-SUP"}
    assert deployments["B-SUP"].checkpoint_id == checkpoint.pk and deployments["ORACLE"].checkpoint_id is None
    assert deployments["ORACLE"].queue_seed != deployments["B-SUP"].queue_seed
    # The queue is capped at the size of the split, and the next round gets the next number.
    from games.services.lifecycle import transition_round

    transition_round(study.pk, "closed")
    assert launch_round(systems=[("HH", None)], queue_size=500).queue.count() == 5


@pytest.mark.parametrize("kwargs, message", [
    ({"systems": []}, "at least one system"),
    ({"systems": [("NOPE", None)]}, "unknown systems: NOPE"),
    ({"systems": [("ORACLE", None), ("NOPE", None), ("ALSO", None)]}, "unknown systems: NOPE, ALSO"),
    ({"systems": [("B-SUP", None)]}, "B-SUP has a model listener: give it a checkpoint"),
    ({"systems": [("B-SUP", 987_654)]}, "checkpoint 987654"),
    ({"systems": [("ORACLE", None), ("ORACLE", None)]}, "once per round"),
    ({"systems": [("ORACLE", None)], "settings": {"timing": {"speaker_seconds": "soon"}}}, "settings: "),
    ({"systems": [("ORACLE", None)], "settings": {"timing": {"speaker_seconds": 0}}}, "must be positive"),
    ({"systems": [("ORACLE", None)], "settings": {"colour": "blue"}}, "settings: "),
    ({"systems": [("ORACLE", None)], "settings": ["timing"]}, "settings: "),
    ({"systems": [("ORACLE", None)], "split": "test"}, "no game configs in split 'test'"),
    ({"systems": [("ORACLE", None)], "split": "mixed"}, "no game configs in split 'mixed'"),
    ({"systems": [("ORACLE", None)], "queue_size": 0}, "at least one config"),
])
def test_launch_round_refuses_bad_input_and_creates_nothing(systems, kwargs, message):
    before = counts()
    with pytest.raises(RoundError, match=message):
        launch_round(**kwargs)
    assert counts() == before


def test_only_one_round_is_open_at_a_time_and_numbers_are_unique(systems):
    launch_round(systems=[("ORACLE", None)], number=7)
    before = counts()
    with pytest.raises(RoundError, match="another round is open"):
        launch_round(systems=[("HH", None)])
    assert counts() == before
    from games.services.lifecycle import transition_round

    transition_round(Round.objects.get().pk, "closed")
    with pytest.raises(RoundError, match="round 7 already exists"):
        launch_round(systems=[("HH", None)], number=7)
    assert counts() == before
    assert launch_round(systems=[("HH", None)]).number == 8


# --- commands ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["create_system", "launch_round", "game_clock"])
def test_commands_have_help(name):
    text = load_command_class("games", name).create_parser("manage.py", name).format_help()
    assert "usage:" in text and len(text) > 300


def test_create_system_command():
    out, _ = run("create_system", "T-RL", "--listener", "model", "--decoder", "ternary", "--objective", "rl")
    assert out.strip() == "system T-RL: listener model, decoder ternary, objective rl"
    assert System.objects.get(name="T-RL").objective == "rl"


@pytest.mark.parametrize("args, message", [
    (["X", "--listener", "model", "--objective", "sup"], "needs a feedback decoder"),
    (["bad name", "--listener", "oracle"], "bad name"),
    (["X", "--listener", "robot"], "invalid choice"),
    (["X"], "--listener"),
])
def test_create_system_command_fails_with_one_line(args, message):
    with pytest.raises(CommandError) as error:
        run("create_system", *args)
    assert message in str(error.value) and "\n" not in str(error.value).strip()
    assert not System.objects.exists()


def test_launch_round_command(systems, model_files):
    checkpoint = CheckpointFactory()
    out, _ = run("launch_round", "--system", "ORACLE", "--system", f"B-SUP:{checkpoint.pk}", "--queue-size", "3",
                 "--split", "dev", "--study-settings", '{"timing": {"speaker_seconds": 45}}')
    assert out.strip() == "round 1 open: 3 configs, deployments: B-SUP, ORACLE"
    study = Round.objects.get()
    assert study.settings["timing"]["speaker_seconds"] == 45.0
    assert set(study.queue.values_list("config__split", flat=True)) == {"dev"}


@pytest.mark.parametrize("args, message", [
    (["--system", "NOPE"], "unknown systems: NOPE"),
    (["--system", "B-SUP"], "give it a checkpoint"),
    (["--system", "B-SUP:abc"], "--system"),
    (["--system", "ORACLE", "--study-settings", "{not json"], "--study-settings is not valid JSON"),
    (["--system", "ORACLE", "--study-settings", '{"timing": {"nap_seconds": 3}}'], "unknown GameTiming settings"),
    (["--system", "ORACLE", "--split", "test"], "no game configs in split 'test'"),
    (["--system", "ORACLE", "--queue-size", "0"], "at least one config"),
    ([], "--system"),
])
def test_launch_round_command_fails_with_one_line(systems, args, message):
    with pytest.raises(CommandError) as error:
        run("launch_round", *args)
    assert message in str(error.value) and "\n" not in str(error.value).strip()
    assert not Round.objects.exists() and not Deployment.objects.exists()


def test_game_clock_once_ends_overdue_games(game_library, settings, monkeypatch):
    import games.services.play as play

    monkeypatch.setattr(play, "notify_interaction", lambda pk, version=None: None)
    overdue = start("human")
    Interaction.objects.filter(pk=overdue.pk).update(phase_deadline=timezone.now() - timedelta(seconds=10))
    in_grace = start("human")
    Interaction.objects.filter(pk=in_grace.pk).update(phase_deadline=timezone.now() - timedelta(seconds=1))
    running = start("human")
    out, _ = run("game_clock", "--once")
    assert out.strip() == "1 games moved past a deadline"
    assert Interaction.objects.get(pk=overdue.pk).end_reason == "speaker_idle"
    assert Interaction.objects.get(pk=in_grace.pk).status == "playing"
    assert Interaction.objects.get(pk=running.pk).status == "playing"
    out, _ = run("game_clock", "--once")
    assert out.strip() == "0 games moved past a deadline"
    with pytest.raises(CommandError, match="--interval must be positive"):
        run("game_clock", "--interval", "0")


def test_launch_round_refuses_a_checkpoint_whose_files_are_missing(systems, model_files):
    missing_base = CheckpointFactory(base_model="models/nowhere")
    with pytest.raises(RoundError, match="models/nowhere has no config.json"):
        launch_round(systems=[("B-SUP", missing_base.pk)], queue_size=2)
    missing_adapter = CheckpointFactory(adapter_path="adapters/gone")
    with pytest.raises(RoundError, match="adapters/gone has no adapter_config.json"):
        launch_round(systems=[("B-SUP", missing_adapter.pk)], queue_size=2)
    assert not Round.objects.exists()
