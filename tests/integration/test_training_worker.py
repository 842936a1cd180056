"""A training run through Celery on a real ``training`` worker (PostgreSQL + Redis; the services pass)."""
import io
import os
import subprocess
import sys
import time

import pytest
from django.core.management import call_command

from feedback.services.decoding import decode_round
from games.services.rounds import close_round, create_system, launch_round
from games.services.simulation import play_round_games
from tests.integration.test_live_game import _service_env, _stop
from training.models import PolicyCheckpoint, TrainingRun
from training.services.loop import train_round

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_a_real_training_worker_trains_a_round_and_registers_the_checkpoint(game_library, tmp_path, settings):
    settings.BOT_DISPATCH = "inline"
    settings.TRAINING_DISPATCH = "celery"
    call_command("train_seed", "--pretrain-figures", "20", "--pretrain-games", "10", "--pretrain-steps", "4",
                 "--steps", "3", "--games", "3", "--evaluate-games", "0", "--simulate", stdout=io.StringIO())
    seed = PolicyCheckpoint.objects.get(name="seed")
    create_system("B-SUP", listener_kind="model", decoder="binary", objective="sup",
                  hyperparameters={"training": {"steps": 6, "batch_size": 8, "eval_every": 3}})
    round_ = launch_round(systems=[("B-SUP", seed.pk)], split="train", queue_size=5)
    play_round_games(count=3, seed=1, round_number=round_.number)
    close_round(round_.number)
    decode_round(round_.number, mark_decoded=True)
    env = {**_service_env(), "RESPECT_DATA_DIR": str(settings.DATA_DIR)}
    log = open(tmp_path / "worker.log", "w+")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "respect_site", "worker", "-Q", "training", "--pool", "solo",
         "--concurrency", "1", "--loglevel", "WARNING", "-n", f"training-{time.time_ns()}@pytest"],
        cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        [run] = train_round(round_.number, timeout=240)
    finally:
        _stop(worker)
    run = TrainingRun.objects.get(pk=run.pk)
    assert run.status == "succeeded", open(log.name).read()[-3000:]
    assert run.worker and not run.worker.endswith(f":{os.getpid()}")  # trained by the worker, not here
    assert run.checkpoint.name == "B-SUP-r1" and (settings.DATA_DIR / run.checkpoint.adapter_path).is_dir()
    assert run.round.status == "trained"
