"""The learning loop: training runs, the round lifecycle (close, train, advance) and run_study."""
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from games.models import Deployment, Interaction, Round, System
from games.services import play
from games.services.rounds import RoundError, close_round, create_system, launch_round
from games.services.simulation import play_round_games
from training.learning.examples import is_good_turn
from training.models import PolicyCheckpoint, TrainingRun
from training.policies.registry import load_checkpoint_policy
from training.services import runs as runs_service
from training.services.loop import advance_round, train_round
from training.services.runs import TrainingError, execute_run, plan_round_runs
from training.services.study import StudyOptions, run_study

pytestmark = pytest.mark.django_db(transaction=True)  # bot answers run on commit, as in production

FAST_SEED = ["--pretrain-figures", "20", "--pretrain-games", "10", "--pretrain-steps", "4", "--steps", "3",
             "--games", "3", "--evaluate-games", "0", "--simulate"]
FAST_TRAINING = {"training": {"steps": 6, "batch_size": 8, "eval_every": 3}}


@pytest.fixture
def seed(game_library, settings):
    settings.BOT_DISPATCH = "inline"
    settings.TRAINING_DISPATCH = "inline"  # the real-worker path is tests/integration/test_training_worker.py
    call_command("train_seed", *FAST_SEED, stdout=io.StringIO())
    return PolicyCheckpoint.objects.get(name="seed")


def learning_round(seed, *systems, games=3):
    for name, objective, decoder in systems:
        create_system(name, listener_kind="model", decoder=decoder, objective=objective, hyperparameters=FAST_TRAINING)
    round_ = launch_round(systems=[(name, seed.pk) for name, _, _ in systems], split="train", queue_size=5)
    play_round_games(count=games * len(systems), seed=1, round_number=round_.number)
    return round_


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def adapter_weights(checkpoint):
    from safetensors.torch import load_file

    return load_file(str(Path(checkpoint_dir(checkpoint)) / "adapter_model.safetensors"))


def checkpoint_dir(checkpoint):
    from django.conf import settings

    return Path(settings.DATA_DIR) / checkpoint.adapter_path


# --- close_round ---------------------------------------------------------------------------------------


def test_close_round_refuses_live_games_unless_forced(seed):
    create_system("CONTROL", listener_kind="model", decoder="binary")
    round_ = launch_round(systems=[("CONTROL", seed.pk)], split="train", queue_size=5)
    deployment = Deployment.objects.get()
    game = play.start_game(config=round_.queue.first().config, speaker=None, listener_kind="oracle",
                           deployment=deployment)
    with pytest.raises(RoundError, match="1 game\\(s\\) in play"):
        close_round(round_.number)
    assert Round.objects.get().status == "open"
    with pytest.raises(CommandError, match="in play"):
        run("close_round", "--round", str(round_.number))
    assert run("close_round", "--round", str(round_.number), "--force").strip() == f"round {round_.number} is closed"
    game.refresh_from_db()
    assert (game.status, game.end_reason) == ("ended", "cancelled")
    assert close_round(round_.number).status == "closed"  # again: nothing to do


# --- one training run -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("objective, decoder", [("sup", "binary"), ("rl", "ternary"), ("kto", "binary"),
                                                ("final_reward", "none"), ("seed_only", "none")])
def test_a_run_trains_a_fresh_adapter_and_registers_a_checkpoint(seed, objective, decoder):
    round_ = learning_round(seed, ("X", objective, decoder))
    advance_round(round_.number, launch_next=False)
    run_ = TrainingRun.objects.get()
    assert (run_.status, run_.objective, run_.attempts, run_.progress) == ("succeeded", objective, 1, 1.0)
    assert run_.initial_checkpoint == seed and run_.loss_curve and run_.dataset_stats["rows"] > 0
    if objective == "seed_only":
        assert run_.dataset_stats["interaction_rows"] == 0
    checkpoint = run_.checkpoint
    assert (checkpoint.name, checkpoint.parent, checkpoint.round, checkpoint.objective) == ("X-r1", seed, round_, objective)
    assert checkpoint.base_model == seed.base_model
    new, old = adapter_weights(checkpoint), adapter_weights(seed)
    assert new.keys() == old.keys() and any((new[k] != old[k]).any() for k in new)
    assert load_checkpoint_policy(checkpoint).adapter is not None  # it deploys
    assert Round.objects.get().status == "trained"


def test_epochs_make_the_steps_grow_with_the_training_rows(seed):
    create_system("B-SUP", listener_kind="model", decoder="binary", objective="sup",
                  hyperparameters={"training": {"epochs": 1.5, "steps": 2, "batch_size": 8, "eval_every": 3}})
    round_ = launch_round(systems=[("B-SUP", seed.pk)], split="train", queue_size=5)
    play_round_games(count=3, seed=1, round_number=round_.number)
    advance_round(round_.number, launch_next=False)
    run_ = TrainingRun.objects.get()
    rows = run_.dataset_stats["rows"]
    steps = -(-3 * rows // 16)  # ceil(1.5 epochs × rows / batch 8); not the 2 of "steps"
    assert (run_.status, run_.progress) == ("succeeded", 1.0)
    assert run_.loss_curve[-1][0] == steps and f"trained {steps} steps" in run_.log


def test_epochs_fix_the_steps_only_when_set():
    from training.learning.settings import RetrainSettings

    assert RetrainSettings(steps=600).for_rows(5000).steps == 600
    assert RetrainSettings(epochs=20, batch_size=32).for_rows(1000).steps == 625
    assert RetrainSettings(epochs=0.01, batch_size=32).for_rows(10).steps == 1
    fixed = RetrainSettings(epochs=20).for_rows(1000)
    assert fixed.for_rows(99999) == fixed  # resolving twice changes nothing


def test_a_failing_run_registers_nothing_and_runs_again_once_fixed(seed, monkeypatch):
    round_ = learning_round(seed, ("B-SUP", "sup", "binary"))

    def broken(*args, **kwargs):
        raise RuntimeError("out of GPU memory")

    monkeypatch.setattr(runs_service, "retrain", broken)
    with pytest.raises(TrainingError, match="training failed \\(B-SUP: failed: RuntimeError: out of GPU memory\\)"):
        advance_round(round_.number)
    run_ = TrainingRun.objects.get()
    assert run_.status == "failed" and "out of GPU memory" in run_.traceback and run_.checkpoint is None
    assert PolicyCheckpoint.objects.count() == 1 and Round.objects.get().status == "decoded"
    assert not (checkpoint_dir(seed).parent.parent / "B-SUP-r1").exists()
    monkeypatch.undo()
    report = advance_round(round_.number)
    assert report.steps == ["trained", "launched"] and report.next_round == 2
    assert TrainingRun.objects.get().attempts == 2


def test_a_run_whose_worker_died_is_claimed_again(seed):
    round_ = learning_round(seed, ("B-SUP", "sup", "binary"))
    close_round(round_.number)
    from feedback.services.decoding import decode_round

    decode_round(round_.number, mark_decoded=True)
    [run_] = plan_round_runs(round_.number)
    # A worker claimed it, then died mid-training (its process is gone).
    TrainingRun.objects.filter(pk=run_.pk).update(status="running", worker="nowhere:1", attempts=1)
    from django.utils import timezone

    TrainingRun.objects.filter(pk=run_.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(hours=2))
    [done] = train_round(round_.number)
    assert (done.status, done.attempts) == ("succeeded", 2)
    # A live worker's run is left alone.
    assert execute_run(done.pk).status == "succeeded" and TrainingRun.objects.get().attempts == 2


def test_train_round_refuses_an_open_round(seed):
    round_ = learning_round(seed, ("B-SUP", "sup", "binary"))
    with pytest.raises(CommandError, match="round 1 is open: close it and decode its feedback first"):
        run("train_round", "--round", str(round_.number))
    assert not TrainingRun.objects.exists()


# --- advancing rounds ------------------------------------------------------------------------------------------


def test_advance_round_twice_duplicates_nothing_and_deploys_the_new_checkpoints(seed):
    create_system("HH", listener_kind="human")
    round_ = learning_round(seed, ("B-SUP", "sup", "binary"), ("CONTROL", "none", "binary"))
    out = run("advance_round", "--round", str(round_.number), "--force")
    assert "round 1: closed, decoded, trained, launched; round 2 is next" in out
    counts = (Round.objects.count(), TrainingRun.objects.count(), PolicyCheckpoint.objects.count(),
              Deployment.objects.count())
    again = run("advance_round", "--round", str(round_.number))
    assert "round 2 exists already" in again
    assert counts == (Round.objects.count(), TrainingRun.objects.count(), PolicyCheckpoint.objects.count(),
                      Deployment.objects.count()) == (2, 1, 2, 4)
    deployed = dict(Deployment.objects.filter(round__number=2).values_list("system__name", "checkpoint__name"))
    assert deployed == {"B-SUP": "B-SUP-r1", "CONTROL": "seed"}
    assert Round.objects.get(number=2).status == "open"


def test_advance_round_without_any_round_is_a_clear_error(db):
    with pytest.raises(CommandError, match="there is no round to advance"):
        run("advance_round")


# --- a whole study -----------------------------------------------------------------------------------------------


def test_run_study_smoke_and_resume(seed, tmp_path):
    out = tmp_path / "study"
    options = StudyOptions(out=out, systems=("B-SUP", "CONTROL"), rounds=2, games_per_round=2,
                           training=FAST_TRAINING["training"], queue_size=5, hh_games=3)
    rows = run_study(options)
    assert [(r.round, r.system, r.games) for r in rows] == [
        (1, "B-SUP", 2), (1, "CONTROL", 2), (1, "HH", 3), (2, "B-SUP", 2), (2, "CONTROL", 2), (2, "HH", 3)]
    assert all(0 <= r.success <= 1 and r.success_low <= r.success <= r.success_high for r in rows)
    assert rows[0].training_rows and rows[3].training_rows is None  # the last round is not trained
    assert (out / "rounds.csv").read_text().count("\n") == 7 and (out / "success.png").stat().st_size > 1000
    assert Round.objects.get(number=2).status == "decoded"
    assert Deployment.objects.get(round__number=2, system__name="B-SUP").checkpoint.name == "B-SUP-r1"
    assert Interaction.objects.filter(deployment__isnull=False).count() == 14
    # The human-human games' good listener actions selected the checkpoint, not B-SUP's own games.
    hh_games = set(Interaction.objects.filter(deployment__system__name="HH").values_list("pk", flat=True))
    people = runs_service.selection_rows(1, 390, 0)
    assert people and {int(t.game) for t in people} <= hh_games and all(is_good_turn(t) for t in people)
    assert TrainingRun.objects.get().dataset_stats["held_out_source"] == "human-human"
    assert TrainingRun.objects.get().dataset_stats["held_out_rows"] == len(people)
    fewer = runs_service.selection_rows(2, 2, 5)
    assert len(fewer) == 2 and fewer == runs_service.selection_rows(2, 2, 5)  # capped, under its seed
    before = (Interaction.objects.count(), TrainingRun.objects.count(), PolicyCheckpoint.objects.count())
    assert [r.success for r in run_study(options)] == [r.success for r in rows]
    assert before == (Interaction.objects.count(), TrainingRun.objects.count(), PolicyCheckpoint.objects.count())
    with pytest.raises(TrainingError, match="belongs to a study with other options"):
        run_study(StudyOptions(out=out, systems=("B-SUP",), rounds=2, games_per_round=2, hh_games=3))
    # A study folder from before --hh-games existed (its options do not name it) still resumes.
    state = json.loads((out / "study.json").read_text())
    del state["options"]["hh_games"]
    (out / "study.json").write_text(json.dumps(state))
    assert [r.success for r in run_study(options)] == [r.success for r in rows]
    assert before == (Interaction.objects.count(), TrainingRun.objects.count(), PolicyCheckpoint.objects.count())


def test_a_second_study_while_one_is_working_is_refused_and_changes_nothing(seed, tmp_path):
    import subprocess
    import sys

    from django.conf import settings

    lock = Path(settings.DATA_DIR) / "studies" / ".run_study.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    # Another process holds the installation's study lock (as a running run_study does).
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX); "
        "f.write('pid 4242'); f.flush(); print('held', flush=True); time.sleep(60)"), str(lock)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CommandError, match="another run_study is working on this installation \\(pid 4242\\)"):
            run("run_study", "--simulate", "--rounds", "1", "--games-per-round", "1", "--out", str(tmp_path / "s"))
        assert not Round.objects.exists() and not System.objects.filter(name="B-SUP").exists()
        assert not (tmp_path / "s").exists()
    finally:
        holder.kill()
        holder.wait()
    # The lock dies with its process: the study now runs.
    options = StudyOptions(out=tmp_path / "s", systems=("CONTROL",), rounds=1, games_per_round=1, queue_size=5,
                           hh_games=0)
    assert [(r.round, r.system, r.games) for r in run_study(options)] == [(1, "CONTROL", 1)]


def test_run_study_command_refuses_bad_input(seed, tmp_path):
    with pytest.raises(CommandError, match="not JSON"):
        run("run_study", "--simulate", "--training", "{", "--out", str(tmp_path))
    with pytest.raises(CommandError, match="unknown speaker population 'martian'"):
        run("run_study", "--simulate", "--population", "martian", "--out", str(tmp_path))
    with pytest.raises(CommandError, match="no checkpoint named 'nope'"):
        run("run_study", "--simulate", "--initial", "nope", "--out", str(tmp_path))
    with pytest.raises(CommandError, match="HH is deployed with --hh-games"):
        run("run_study", "--simulate", "--systems", "B-SUP,HH", "--out", str(tmp_path))
    with pytest.raises(CommandError, match="human-human games per round cannot be negative"):
        run("run_study", "--simulate", "--hh-games", "-1", "--out", str(tmp_path))
    assert not Round.objects.exists() and not System.objects.filter(name="B-SUP").exists()


def test_the_admin_shows_a_runs_progress(seed, admin_client):
    round_ = learning_round(seed, ("B-SUP", "sup", "binary"))
    advance_round(round_.number, launch_next=False)
    page = admin_client.get("/admin/training/trainingrun/").content.decode()
    assert "B-SUP after round 1" in page and "succeeded" in page and 'value="100"' in page


@pytest.mark.parametrize("training, message", [
    ({"stepz": 3}, "unknown training settings: stepz"),
    ({"steps": 0}, "training.steps must be a whole number >= 1"),
    ({"learning_rate": "fast"}, "training.learning_rate must be a positive number"),
    ({"schedule": "zigzag"}, "training.schedule must be 'cosine' or 'constant'"),
    ({"epochs": -1}, "training.epochs must be a number >= 0"),
    ({"epochs": True}, "training.epochs must be a number >= 0"),
    ([], "training settings must be a JSON object"),
])
def test_bad_training_settings_are_refused_when_the_system_is_created(db, training, message):
    with pytest.raises(CommandError, match=message):
        run("create_system", "X", "--listener", "model", "--decoder", "binary", "--objective", "sup",
            "--hyperparameters", json.dumps({"training": training}))
    assert not System.objects.exists()


def test_a_run_without_decoded_labels_fails_clearly(seed):
    round_ = learning_round(seed, ("B-SUP", "sup", "binary"))
    close_round(round_.number)
    Round.objects.filter(pk=round_.pk).update(status="decoded", decoded_at=round_.opened_at)  # labels never stored
    with pytest.raises(TrainingError, match="no decoded feedback for B-SUP in rounds <= 1: run decode_feedback first"):
        train_round(round_.number)
    assert TrainingRun.objects.get().status == "failed" and PolicyCheckpoint.objects.count() == 1


# --- bench/retrain_probe.py ----------------------------------------------------------------------------


def _retrain_probe():
    import importlib.util

    from django.conf import settings

    spec = importlib.util.spec_from_file_location("retrain_probe", settings.BASE_DIR / "bench" / "retrain_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_retrain_probe_retrains_and_measures_in_memory(seed):
    probe = _retrain_probe()
    args = probe.parse_args(["--games", "4", "--eval-games", "3", "--labels", "lexicon", "--training",
                             json.dumps({"steps": 3, "batch_size": 4}), "--json"])
    before = (Interaction.objects.count(), PolicyCheckpoint.objects.count(), TrainingRun.objects.count())
    result = probe.probe(args, say=lambda _: None)
    again = probe.probe(args, say=lambda _: None)
    for run in (result, again):
        run.pop("seconds")
        run["training"].pop("seconds")
    assert again == result  # seeded: the same games, the same training, the same measurement
    assert result["training"]["steps"] == 3
    assert result["dataset"]["rows"] == result["dataset"]["seed_rows"] + result["dataset"]["interaction_rows"]
    for name in ("initial", "retrained"):
        assert 0 <= result[name]["low"] <= result[name]["mean"] <= result[name]["high"] <= 1
    assert (Interaction.objects.count(), PolicyCheckpoint.objects.count(), TrainingRun.objects.count()) == before


def test_the_retrain_probe_labels_by_outcome_or_by_the_next_message(seed):
    from games.domain.rules import Action, GameState
    from training.learning.examples import PlayedTurn
    from training.learning.simulated import PolicyGame
    from training.policies.base import ActRequest

    probe = _retrain_probe()
    images = tuple(f"img{i}" for i in range(10))
    state = GameState(targets=frozenset(images[:3]), context=frozenset(images))
    first = ActRequest.for_state(state, listener_order=images, utterance="the bird")
    good = PlayedTurn(request=first, action=Action(select=frozenset({images[0]})), targets=state.targets)
    state.submit(good.action, "the bird")
    second = ActRequest.for_state(state, listener_order=images, utterance="yes! now the boat")
    bad = PlayedTurn(request=second, action=Action(select=frozenset({images[5]})), targets=state.targets)
    state.submit(bad.action, "yes! now the boat")
    third = ActRequest.for_state(state, listener_order=images, utterance="no, undo that")
    last = PlayedTurn(request=third, action=Action(deselect=frozenset({images[5]})), targets=state.targets)
    game = PolicyGame(success=False, turns=3, turn_log=(good, bad, last))
    assert [row.label for row in probe.label_games([game], "perfect")] == ["positive", "negative", "positive"]
    assert [row.label for row in probe.label_games([game], "lexicon")] == ["positive", "negative", None]
    assert probe.label_games([game], "perfect")[0].turn.game == "probe-0"


def test_the_retrain_probe_refuses_bad_arguments():
    probe = _retrain_probe()
    for argv in (["--games", "0"], ["--training", "{nope"], ["--labels", "oracle"]):
        with pytest.raises(SystemExit):
            probe.parse_args(argv)
