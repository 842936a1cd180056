"""What a listener can learn from its own games, apart from the decoder and the round machinery.

A policy checkpoint (the initial policy by default) plays ``--games`` games in memory against simulated
speakers of ``--population`` (``training.learning.simulated.play_policy_games``: nothing is stored); its
turns are labelled either by the *true* outcome (``--labels perfect``: a good select or a good deselect is
positive, ``games.domain.rules``; a perfect decoder) or by the lexicon feedback decoder reading the
speaker's next message (``--labels lexicon``, binary view); a fresh adapter is retrained on them with the
learning loop's own code (``build_dataset``, ``open_for_training``, ``retrain``: the SUP objective, the
seed rows included; in-memory games log no action probabilities, which RL and KTO need) and both policies are measured on ``--eval-games`` other games (95%
bootstrap CIs). ``--lora-only`` trains LoRA alone, without the compact listener's word modules (the
ablation of docs/learning-loop.md, "Learning new words").

    DATABASE_URL=... RESPECT_DATA_DIR=... .venv/bin/python bench/retrain_probe.py \\
        [--checkpoint seed] [--games 200] [--labels perfect|lexicon] [--training '{"steps": 600}'] \\
        [--lora-only] [--population shifted] [--eval-games 300] [--json]

It reads the configured database (the checkpoint, its seed games, the library); it writes nothing there.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "respect_site.settings")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default="seed", help="The policy that plays and is retrained (by name).")
    parser.add_argument("--games", type=int, default=200, help="Games of interaction data.")
    parser.add_argument("--labels", choices=["perfect", "lexicon"], default="perfect")
    parser.add_argument("--training", default="{}", help="Training settings as JSON (a system's training settings; "
                        "held_out_share defaults to 0 here: the last weights are measured).")
    parser.add_argument("--lora-only", action="store_true", help="LoRA alone, without the word modules.")
    parser.add_argument("--population", default="shifted", help="Speaker population (default shifted).")
    parser.add_argument("--split", default="train", help="Config split for both sets of games.")
    parser.add_argument("--play-seed", type=int, default=11, help="Seed of the training games.")
    parser.add_argument("--eval-games", type=int, default=300)
    parser.add_argument("--eval-seed", type=int, default=0, help="Seed of the measuring games.")
    parser.add_argument("--skip-initial", action="store_true", help="Do not measure the checkpoint itself.")
    parser.add_argument("--json", action="store_true", help="Print the result as one JSON object.")
    args = parser.parse_args(argv)
    if args.games < 1 or args.eval_games < 1:
        parser.error("--games and --eval-games must be at least 1")
    try:
        args.training = json.loads(args.training)
    except json.JSONDecodeError as exc:
        parser.error(f"--training is not JSON: {exc}")
    return args


def label_games(games, labels: str) -> list:
    """``LoggedTurn`` rows of in-memory games: round 1, the policy's own actions, labelled."""
    from feedback.decoders.lexicon import LexiconDecoder
    from feedback.domain.labels import NEGATIVE, POSITIVE
    from feedback.domain.windows import TurnRecord, game_windows
    from training.learning.datasets import LoggedTurn
    from training.learning.examples import is_good_turn

    rows, windows = [], []
    for number, game in enumerate(games):
        log = [replace(turn, game=f"probe-{number}") for turn in game.turn_log]
        if labels == "lexicon" and log:
            # The feedback app's own windows (one per turn with a follow-up), keyed by the row they label.
            records = [TurnRecord(index=k, utterance=t.request.utterance, selected=t.action.select,
                                  deselected=t.action.deselect, key=len(rows) + k) for k, t in enumerate(log)]
            windows += game_windows(records, log[0].request.listener_order)
        for turn in log:
            label = (POSITIVE if is_good_turn(turn) else NEGATIVE) if labels == "perfect" else None
            rows.append(LoggedTurn(turn=turn, round=1, label=label, probability=None, action_source="model",
                                   game_succeeded=game.success, checkpoint_id=None))
    if windows:
        for window, result in zip(windows, LexiconDecoder(binary=True).decode(windows)):
            rows[window.key] = replace(rows[window.key], label=result.label)
    return rows


def probe(args: argparse.Namespace, say=print) -> dict:
    import django
    import torch

    django.setup()
    from django.conf import settings

    from games.domain.stats import bootstrap_ci
    from games.simulation import SpeakerStyle
    from training.learning.datasets import build_dataset
    from training.learning.retrain import retrain
    from training.learning.settings import RetrainSettings
    from training.learning.simulated import play_policy_games
    from training.models import PolicyCheckpoint
    from training.policies.registry import load_checkpoint_policy
    from training.policies.trainable import open_for_training
    from training.selectors import library_figures, split_contexts, tangram_pngs
    from training.services.runs import seed_rows_of

    checkpoint = PolicyCheckpoint.objects.filter(name=args.checkpoint).first()
    if checkpoint is None:
        raise SystemExit(f"no checkpoint named {args.checkpoint!r} in this database")
    style = SpeakerStyle.from_dict({"population": args.population})
    settings_ = RetrainSettings.from_dict({"held_out_share": 0, **args.training})

    def play(policy, games: int, seed: int):
        torch.manual_seed(seed)  # the policies sample their actions from torch's global generator
        contexts = split_contexts(args.split, games, seed)
        if not contexts:
            raise SystemExit(f"no game configs in the {args.split} split")
        return play_policy_games(policy, library_figures({n for c in contexts for n in c.images}), contexts, seed,
                                 style=style)

    def success(games) -> dict:
        estimate = bootstrap_ci([float(g.success) for g in games], seed=args.eval_seed)
        return {"mean": estimate.mean, "low": estimate.low, "high": estimate.high}

    result: dict = {"options": {k: v for k, v in vars(args).items() if k != "json"}}
    started = time.monotonic()
    played = play(load_checkpoint_policy(checkpoint), args.games, args.play_seed)
    result["training_games_success"] = sum(g.success for g in played) / len(played)
    dataset = build_dataset("sup", label_games(played, args.labels), seed_rows_of(checkpoint),
                            binary=True, seed=settings_.seed, held_out_share=settings_.held_out_share,
                            shuffle_contexts=settings_.shuffle_contexts)
    result["dataset"] = {k: dataset.stats[k] for k in ("rows", "seed_rows", "interaction_rows", "held_out_rows", "excluded")}
    say(f"{args.games} games played ({result['training_games_success']:.1%} won); dataset: "
        f"{dataset.stats['interaction_rows']} interaction rows + {dataset.stats['seed_rows']} seed rows")
    lora = {"modules_to_save": None} if args.lora_only else {}
    policy, model = open_for_training(Path(settings.DATA_DIR) / checkpoint.base_model, tangram_pngs,
                                      seed=settings_.seed, **lora)
    report = retrain(policy, model, dataset, settings_)
    result["training"] = {"steps": report.steps, "seconds": report.seconds, "last_loss": report.loss_curve[-1][1],
                          "best_step": report.best_step, "lora_only": args.lora_only}
    say(f"retrained {report.steps} steps in {report.seconds:.0f} s (last loss {report.loss_curve[-1][1]:.3f})")
    if not args.skip_initial:
        result["initial"] = success(play(load_checkpoint_policy(checkpoint), args.eval_games, args.eval_seed))
    result["retrained"] = success(play(policy, args.eval_games, args.eval_seed))
    result["seconds"] = round(time.monotonic() - started, 1)
    for name in ("initial", "retrained"):
        if name in result:
            r = result[name]
            say(f"{name}: {r['mean']:.1%} [{r['low']:.1%}, {r['high']:.1%}] over {args.eval_games} games")
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    result = probe(args, say=(lambda _: None) if args.json else print)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
