"""The initial policy: train it from a few seed human–human games (original-system.md §4.2).

``train_seed_policy``:

1. finds ``games`` completed human–human seed games on the ``split`` configs (simulating the missing
   ones with the simulated speaker and listener when asked);
2. builds the seed dataset: only good listener actions, plus the undo-last and clear-all augmentations
   at the original's 0.88 / 0.06 / 0.06 proportions;
3. for the CPU default, pre-trains a compact listener *base* from scratch on simulated human–human games
   over freshly generated figures that are not in the library (the stand-in for a real model's
   pre-training: the base never sees a library image, so deployment tests generalisation); with
   ``base`` given (a real Idefics model or an existing listener folder) this step is skipped;
4. trains a fresh LoRA adapter on the seed dataset, saves it under DATA_DIR/models/<name>/adapter and
   registers the ``PolicyCheckpoint``;
5. optionally measures the new policy against simulated speakers on ``evaluate_split`` configs.

Every step reports progress through ``progress(message)``; failures raise ``SeedError`` (one line)
before anything is registered.
"""
from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from training.models import PolicyCheckpoint

Progress = Callable[[str], None]


class SeedError(ValueError):
    """The seed policy cannot be trained as asked; the message is a one-line reason."""


@dataclass(frozen=True)
class SeedOptions:
    name: str = "seed"
    games: int = 25
    split: str = "dev"
    simulate_missing: bool = False
    seed: int = 0
    base: str | None = None  # a base folder (relative to DATA_DIR or absolute); None: pre-train a listener
    pretrain_games: int = 3000
    pretrain_figures: int = 1500
    pretrain_steps: int = 1500
    pretrain_learning_rate: float = 2e-3
    steps: int = 150
    learning_rate: float = 1e-3
    batch_size: int = 32
    seed_listener_accuracy: float = 0.85
    evaluate_games: int = 200
    evaluate_split: str = "train"
    speaker_style: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("games", "pretrain_games", "pretrain_steps", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise SeedError(f"{name.replace('_', '-')} must be at least 1")
        if self.pretrain_figures < 10:
            raise SeedError("pretrain-figures must be at least 10 (one context)")
        if self.evaluate_games < 0:
            raise SeedError("evaluate-games must be >= 0")
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise SeedError(f"bad checkpoint name {self.name!r}")
        if not 0 <= self.seed_listener_accuracy <= 1:
            raise SeedError("seed-listener-accuracy must be in [0, 1]")
        from games.simulation.agents.speaker import SpeakerStyle, StyleError

        try:
            SpeakerStyle.from_dict(self.speaker_style)
        except StyleError as exc:
            raise SeedError(f"speaker style: {exc}") from None


def _no_progress(message: str) -> None:
    pass


def _relative(path: Path) -> str:
    data = Path(settings.DATA_DIR).resolve()
    path = path.resolve()
    return str(path.relative_to(data)) if path.is_relative_to(data) else str(path)


def seed_turns(options: SeedOptions, progress: Progress):
    """The seed games' turns (simulating missing games when allowed)."""
    from games.services.simulation import SimulationError, SimulationOptions, play_seed_games
    from games.simulation.agents.speaker import SpeakerStyle, StyleError
    from training.selectors import played_turns, seed_game_ids

    ids = seed_game_ids(options.split, options.games)
    missing = options.games - len(ids)
    if missing > 0:
        if not options.simulate_missing:
            raise SeedError(
                f"only {len(ids)} completed human-human seed games on the {options.split} split (need "
                f"{options.games}): play them, or pass --simulate to simulate the missing ones"
            )
        progress(f"simulating {missing} human-human seed games on the {options.split} split ...")
        try:
            style = SpeakerStyle.from_dict(options.speaker_style)
            play_seed_games(
                count=missing, seed=options.seed + len(ids), split=options.split,
                options=SimulationOptions(style=style, listener_accuracy=options.seed_listener_accuracy),
            )
        except (SimulationError, StyleError) as exc:
            raise SeedError(str(exc)) from None
        ids = seed_game_ids(options.split, options.games)
        if len(ids) < options.games:
            raise SeedError(f"simulation left {len(ids)} completed seed games (need {options.games})")
    return played_turns(ids)


def pretraining_figures(count: int, seed: int):
    """Fresh generated figures (never in the library: their seed space is separate) and their PNGs."""
    from games.domain.tangram_render import render_png
    from games.domain.tangrams import generate_figures

    figures = generate_figures(count, seed=1_000_003 + seed)
    names = [f"pretrain-{seed}-{i:05d}" for i in range(count)]
    return dict(zip(names, figures)), {n: render_png(f) for n, f in zip(names, figures)}


def pretrain_listener_base(out: Path, options: SeedOptions, progress: Progress) -> dict:
    """Build and pre-train a compact listener base at ``out``; returns its training metrics."""
    import torch

    from games.simulation.agents.speaker import SpeakerStyle
    from training.learning.examples import seed_dataset
    from training.learning.simulated import simulated_turns
    from training.learning.supervised import TrainConfig, train_supervised
    from training.policies.compact_listener import ListenerPolicy, build_listener, load_listener_base, save_listener

    started = time.monotonic()
    progress(f"rendering {options.pretrain_figures} fresh figures for pre-training ...")
    figures, pngs = pretraining_figures(options.pretrain_figures, options.seed)
    progress(f"simulating {options.pretrain_games} human-human games on them ...")
    turns = simulated_turns(figures, options.pretrain_games, options.seed, style=SpeakerStyle.from_dict(options.speaker_style))
    rows = seed_dataset(turns, seed=options.seed)
    build_listener(out, seed=options.seed, corpus=[r.request.utterance for r in rows], overwrite=True)
    base = load_listener_base(out)
    policy = ListenerPolicy(base, lambda names: {n: pngs[n] for n in names if n in pngs})
    progress(f"pre-training the base on {len(rows)} turns for {options.pretrain_steps} steps ...")
    torch.manual_seed(options.seed)
    report = train_supervised(
        policy, base.model, [r.example() for r in rows],
        TrainConfig(steps=options.pretrain_steps, batch_size=options.batch_size,
                    learning_rate=options.pretrain_learning_rate, seed=options.seed, log_every=100),
        progress=lambda step, loss: progress(f"  base step {step}/{options.pretrain_steps}: loss {loss:.3f}"),
    )
    save_listener(base.model, base.tokenizer, out)
    return {
        "figures": options.pretrain_figures, "games": options.pretrain_games, "turns": len(rows),
        "seconds": round(time.monotonic() - started, 1), "training": report.to_dict(),
    }


def _seed_adapter(base_dir: Path, adapter_dir: Path, rows, options: SeedOptions, progress: Progress) -> dict:
    """Train a fresh LoRA adapter on the seed rows (images from the library) and save it."""
    from training.learning.hf_training import HFTrainable
    from training.learning.supervised import TrainConfig, train_supervised
    from training.policies.compact_listener import is_listener_folder
    from training.policies.trainable import open_for_training
    from training.selectors import tangram_pngs

    policy, model = open_for_training(base_dir, tangram_pngs, seed=options.seed)
    examples = [r.example() for r in rows]
    if is_listener_folder(base_dir):
        policy.preflight(sorted({n for ex in examples for n in ex.request.listener_order}))
    else:
        policy = HFTrainable(policy)  # the smoothed token cross-entropy as its log_probs
    report = train_supervised(
        policy, model, examples,
        TrainConfig(steps=options.steps, batch_size=options.batch_size, learning_rate=options.learning_rate,
                    seed=options.seed, log_every=25),
        progress=lambda step, loss: progress(f"  adapter step {step}/{options.steps}: loss {loss:.3f}"),
    )
    model.save_pretrained(adapter_dir)
    return report.to_dict()


def evaluate_checkpoint(checkpoint: PolicyCheckpoint, *, games: int, split: str, seed: int, style: dict | None = None):
    """Success rate and turns (95% bootstrap CIs) of a checkpoint against simulated speakers on
    ``games`` configs of ``split`` (in memory; nothing is stored)."""
    from games.simulation.agents.speaker import SpeakerStyle
    from games.domain.stats import bootstrap_ci
    from training.learning.simulated import play_policy_games
    from training.policies.registry import load_checkpoint_policy
    from training.selectors import library_figures, split_contexts

    contexts = split_contexts(split, games, seed)
    if not contexts:
        raise SeedError(f"no game configs in the {split} split to evaluate on")
    figures = library_figures({n for c in contexts for n in c.images})
    policy = load_checkpoint_policy(checkpoint)
    played = play_policy_games(policy, figures, contexts, seed, style=SpeakerStyle.from_dict(style or {}))
    success = bootstrap_ci([float(g.success) for g in played], seed=seed)
    turns = bootstrap_ci([float(g.turns) for g in played], seed=seed)
    return {"games": len(played), "split": split, "success": asdict(success), "turns": asdict(turns)}


def train_seed_policy(options: SeedOptions, progress: Progress = _no_progress) -> PolicyCheckpoint:
    from training.learning.examples import seed_dataset

    started = time.monotonic()
    if PolicyCheckpoint.objects.filter(name=options.name).exists():
        raise SeedError(f"checkpoint {options.name!r} exists (choose another --name)")
    turns = seed_turns(options, progress)
    rows = seed_dataset(turns, seed=options.seed)
    if not rows:
        raise SeedError("the seed games hold no good listener action to imitate")
    progress(f"seed data: {len({t.game for t in turns})} games, {len(turns)} turns, {len(rows)} training rows")

    folder = Path(settings.DATA_DIR) / "models" / options.name
    if folder.exists():
        raise SeedError(f"{folder} exists (choose another --name, or remove the folder)")
    metrics: dict = {"options": asdict(options)}
    try:
        if options.base is None:
            base_dir = folder / "base"
            metrics["pretraining"] = pretrain_listener_base(base_dir, options, progress)
        else:
            base_dir = Path(settings.DATA_DIR) / options.base
            if not (base_dir / "config.json").is_file():
                raise SeedError(f"base model {base_dir} has no config.json")
        progress(f"training the seed LoRA adapter for {options.steps} steps ...")
        metrics["adapter_training"] = _seed_adapter(base_dir, folder / "adapter", rows, options, progress)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    metrics["seed_data"] = {
        "games": len({t.game for t in turns}), "turns": len(turns), "rows": len(rows),
        "augmented_rows": {kind: sum(1 for r in rows if r.origin == kind) for kind in ("remove_last", "remove_current")},
    }
    with transaction.atomic():
        checkpoint = PolicyCheckpoint.objects.create(
            name=options.name, base_model=_relative(base_dir), adapter_path=_relative(folder / "adapter"),
            objective="sup", metrics=metrics,
        )
    if options.evaluate_games:
        progress(f"playing {options.evaluate_games} simulated games on the {options.evaluate_split} split ...")
        metrics["evaluation"] = evaluate_checkpoint(
            checkpoint, games=options.evaluate_games, split=options.evaluate_split, seed=options.seed,
            style=options.speaker_style,
        )
    metrics["seconds"] = round(time.monotonic() - started, 1)
    PolicyCheckpoint.objects.filter(pk=checkpoint.pk).update(metrics=metrics)
    checkpoint.refresh_from_db()
    return checkpoint
