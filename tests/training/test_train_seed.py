"""train_seed: seed games -> seed dataset -> (pre-trained base) -> LoRA adapter -> registered checkpoint."""
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from games.models import Interaction
from training.models import PolicyCheckpoint
from training.policies.registry import load_checkpoint_policy

FAST = ["--pretrain-figures", "20", "--pretrain-games", "10", "--pretrain-steps", "4", "--steps", "3"]


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("train_seed", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_train_seed_simulates_seed_games_trains_and_registers_a_working_checkpoint(game_library, settings):
    output = run("--simulate", "--games", "4", "--evaluate-games", "6", *FAST)
    checkpoint = PolicyCheckpoint.objects.get(name="seed")
    assert checkpoint.base_model == "models/seed/base" and checkpoint.adapter_path == "models/seed/adapter"
    assert (Path(settings.DATA_DIR) / "models/seed/adapter/adapter_config.json").is_file()
    assert checkpoint.objective == "sup"
    m = checkpoint.metrics
    assert m["seed_data"]["games"] == 4 and m["seed_data"]["rows"] >= 4
    assert m["pretraining"]["training"]["steps"] == 4 and m["adapter_training"]["steps"] == 3
    assert m["evaluation"]["games"] == 6 and 0 <= m["evaluation"]["success"]["mean"] <= 1
    assert "success" in output and "checkpoint seed" in output
    # Seed games are stored like any game: purpose seed, human-human, on dev configs, with intents.
    seeds = Interaction.objects.filter(purpose="seed")
    assert seeds.count() == 4 and {i.config.split for i in seeds} == {"dev"}
    assert all(i.speaker_intents.count() == i.turn_count for i in seeds)
    # The checkpoint plays: the registry loads base + adapter.
    policy = load_checkpoint_policy(checkpoint)
    assert policy.adapter is not None


@pytest.mark.django_db
def test_train_seed_reuses_existing_seed_games_and_refuses_too_few(game_library):
    with pytest.raises(CommandError, match="only 0 completed human-human seed games"):
        run("--games", "3", *FAST)
    run("--simulate", "--games", "2", "--evaluate-games", "0", *FAST)
    run("--name", "again", "--games", "2", "--evaluate-games", "0", *FAST)  # no new games needed
    assert Interaction.objects.filter(purpose="seed").count() == 2
    assert PolicyCheckpoint.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("args, message", [
    (["--name", "seed"], "exists"),
    (["--games", "0"], "games must be at least 1"),
    (["--speaker-style", "{"], "not valid JSON"),
    (["--speaker-style", '{"typo_rate": 7}'], "speaker style"),
    (["--seed-listener-accuracy", "2"], "accuracy"),
    (["--base", "models/nothing-here"], "no config.json"),
])
def test_bad_arguments_fail_with_one_line_and_register_nothing(game_library, args, message):
    if args == ["--name", "seed"]:
        run("--simulate", "--games", "1", "--evaluate-games", "0", *FAST)
    before = PolicyCheckpoint.objects.count()
    with pytest.raises(CommandError, match=message):
        run("--simulate", "--games", "1", "--evaluate-games", "0", *FAST, *args)
    assert PolicyCheckpoint.objects.count() == before


@pytest.mark.django_db
def test_a_real_model_base_gets_a_lora_adapter_only(game_library, settings):
    """The Idefics path, on the tiny Idefics model: no pre-training, the study's LoRA on the base."""
    call_command("init_policy", "--tiny", "--out", str(Path(settings.DATA_DIR) / "models" / "tiny"))
    run("--simulate", "--games", "2", "--base", "models/tiny", "--steps", "2", "--evaluate-games", "2")
    checkpoint = PolicyCheckpoint.objects.get(name="seed")
    assert checkpoint.base_model == "models/tiny" and "pretraining" not in checkpoint.metrics
    config = json.loads((Path(settings.DATA_DIR) / checkpoint.adapter_path / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["lora_alpha"] == 8
    assert checkpoint.metrics["evaluation"]["games"] == 2
