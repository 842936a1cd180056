"""Lexicon feedback decoder vs the simulated speaker: precision / recall of positive labels.

Plays simulated games in memory (games.simulation.play_game: the simulated speaker against the
simulated human listener; no database), decodes every turn that has a follow-up with the lexicon
decoder, and scores it against

* the speaker's intent (the intent of turn k+1 is the feedback it meant on turn k's action), and
* the target-derived action quality of turn k (games.domain.rules.action_quality).

Target (issue P5): positive precision >= 0.97 with recall >= 0.90 over >= 2,000 turns.

    .venv/bin/python bench/feedback_lexicon.py [--games 600] [--seed 1] [--listener-accuracy 0.85]
        [--style '{"typo_rate": 0.2}'] [--binary] [--errors 20] [--checkpoint NAME [--split train]]

``--style '{"population": "people"}'`` scores it on the people population (people.py); the last table
breaks the agreement down by the speaker's move (approval and moving on, fixing a pick, correction, undo,
rephrase, try again, partial, keep, reset).

With ``--checkpoint`` a policy checkpoint of the configured database listens instead of the simulated
human listener (e.g. the initial policy, to measure the decoder in the regime of a first round), on
configs of ``--split`` from the library.

The decoder's phrase lists were written without reading the simulator's (docs/feedback.md); this
script only uses the simulator's public game function and its recorded intents.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "respect_site.settings")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--figures", type=int, default=120, help="Distinct generated tangrams to draw contexts from.")
    parser.add_argument("--listener-accuracy", type=float, default=0.85)
    parser.add_argument("--style", default=None, help="SpeakerStyle overrides as JSON.")
    parser.add_argument("--binary", action="store_true", help="Score the binary lexicon decoder.")
    parser.add_argument("--errors", type=int, default=15, help="Print this many false positives (vs intent).")
    parser.add_argument("--checkpoint", default=None, help="A policy checkpoint (by name) listens instead.")
    parser.add_argument("--split", default="train", help="Config split for --checkpoint games (default train).")
    args = parser.parse_args(argv)

    import django

    django.setup()
    from feedback.decoders.lexicon import LexiconDecoder
    from feedback.domain.labels import CLASSES, NEGATIVE, NEUTRAL, POSITIVE
    from feedback.domain.metrics import evaluate, format_evaluation
    from feedback.domain.truth import QUALITY_LABELS
    from feedback.domain.windows import TurnRecord, game_windows
    from games.domain import rules
    from games.domain.tangrams import generate_figures
    from games.simulation import SpeakerStyle

    style = SpeakerStyle.from_dict(json.loads(args.style)) if args.style else None
    figures = {f"fig{i}": fig for i, fig in enumerate(generate_figures(args.figures, seed=args.seed))}
    names = sorted(figures)
    rng = random.Random(args.seed)
    decoder = LexiconDecoder(binary=args.binary)

    started = time.perf_counter()
    windows, intent, quality, moves = [], [], [], []
    wins = turns_total = 0
    for listener_order, targets, played in _games(args, style, figures, names, rng):
        wins += played.success
        turns_total += len(played.turns)
        records = [TurnRecord(index=k, utterance=turn.utterance, selected=action.select, deselected=action.deselect)
                   for k, (turn, action) in enumerate(zip(played.turns, played.actions))]
        windows += game_windows(records, listener_order)
        for k in range(len(played.turns) - 1):
            follow = played.turns[k + 1]
            feedback = follow.intent.feedback
            intent.append(feedback if feedback in CLASSES else None)
            quality.append(QUALITY_LABELS[rules.action_quality(played.actions[k], targets)])
            moves.append(follow.intent.move)
    simulated = time.perf_counter() - started
    started = time.perf_counter()
    labels = [d.label for d in decoder.decode(windows)]
    decoded = time.perf_counter() - started

    print(f"{args.games} games ({wins / args.games:.1%} won, {turns_total} turns), {len(windows)} turns with a "
          f"follow-up; simulated in {simulated:.1f}s, decoded in {decoded:.2f}s "
          f"({len(windows) / max(decoded, 1e-9):,.0f} turns/s) with {decoder.describe()}")
    print(f"intent mix: {dict(Counter(i for i in intent if i))}; quality mix: {dict(Counter(quality))}")
    summary = {}
    for name, truth in (("intent", intent), ("quality", quality)):
        ev = evaluate(zip(labels, truth))
        pos = ev.per_class[POSITIVE]
        summary[name] = (pos.precision, pos.recall)
        print(f"\n== lexicon vs {name}: positive precision {pos.precision:.4f}, recall {pos.recall:.4f}")
        for line in format_evaluation(ev):
            print("  " + line)
    if not args.binary:
        binary = [NEGATIVE if label == NEUTRAL else label for label in labels]
        ev = evaluate(zip(binary, intent))
        print(f"\n(binary view vs intent: positive precision {ev.per_class[POSITIVE].precision:.4f}, "
              f"recall {ev.per_class[POSITIVE].recall:.4f})")
    print("\nfalse positives vs intent (truth, move, previous utterance -> next utterance):")
    shown = 0
    for w, label, truth, move in zip(windows, labels, intent, moves):
        if label == POSITIVE and truth not in (None, POSITIVE) and shown < args.errors:
            print(f"  {truth:<8} {move:<14} {w.utterance!r} -> {w.next_utterance!r}")
            shown += 1
    if os.environ.get("SHOW_MISSES"):
        print("\nmissed positives vs intent:")
        shown = 0
        for w, label, truth, move in zip(windows, labels, intent, moves):
            if truth == POSITIVE and label != POSITIVE and shown < args.errors:
                print(f"  {label:<8} {move:<14} {w.utterance!r} -> {w.next_utterance!r}")
                shown += 1
    print("false positives vs intent by the speaker's move:",
          dict(Counter(m for label, truth, m in zip(labels, intent, moves) if label == POSITIVE and truth not in (None, POSITIVE))))
    print("missed positives vs intent by the speaker's move:",
          dict(Counter(m for label, truth, m in zip(labels, intent, moves) if truth == POSITIVE and label != POSITIVE)))
    print("\nper cue category (the speaker's move behind the follow-up): turns, agreement with intent, labels")
    for move in sorted(set(moves)):
        rows = [(label, truth) for label, truth, m in zip(labels, intent, moves) if m == move]
        agree = sum(label == truth for label, truth in rows) / len(rows)
        print(f"  {move:<14} {len(rows):>6} {agree:>7.1%}  {dict(Counter(label for label, _ in rows))}")
    ok = all(p is not None and p >= 0.97 and r is not None and r >= 0.90 for p, r in summary.values())
    print(f"\ntarget (precision >= 0.97, recall >= 0.90) {'met' if ok else 'NOT met'}: "
          + ", ".join(f"{k} P={p:.3f} R={r:.3f}" for k, (p, r) in summary.items()))
    return 0


class _Played:
    """One game as the scoring needs it: turns with .utterance and .intent, the actions, the outcome."""

    def __init__(self, turns, actions, success):
        self.turns, self.actions, self.success = turns, actions, success


class _Turn:
    def __init__(self, utterance, intent):
        self.utterance, self.intent = utterance, intent


def _games(args, style, figures, names, rng):
    """(listener order, targets, _Played) per game: simulated human listener, or --checkpoint."""
    from games.domain import rules
    from games.domain.game_configs import ContextSpec
    from games.simulation import SpeakerContext, play_game

    if args.checkpoint:
        from training.learning.simulated import play_policy_games
        from training.models import PolicyCheckpoint
        from training.policies.registry import load_checkpoint_policy
        from training.selectors import library_figures, split_contexts

        checkpoint = PolicyCheckpoint.objects.filter(name=args.checkpoint).first()
        if checkpoint is None:
            raise SystemExit(f"no checkpoint named {args.checkpoint!r} in this database")
        contexts = split_contexts(args.split, args.games, args.seed)
        if not contexts:
            raise SystemExit(f"no game configs in the {args.split} split")
        library = library_figures({n for c in contexts for n in c.images})
        games = play_policy_games(load_checkpoint_policy(checkpoint), library, contexts, args.seed, style=style)
        for context, game in zip(contexts, games):
            turns = [_Turn(t.request.utterance, move) for t, move in zip(game.turn_log, game.intents)]
            yield context.listener_order, context.targets, _Played(turns, [t.action for t in game.turn_log], game.success)
        return
    for g in range(args.games):
        # Uniformly 3-5 targets (this benchmark's draws since lex-v1; generate_contexts weighs 3/4/5 as the study).
        images = rng.sample(names, rules.CONTEXT_SIZE)
        k = rng.randint(rules.MIN_TARGETS, rules.MAX_TARGETS)
        speaker_order = images[:]
        rng.shuffle(speaker_order)
        listener_order = images[:]
        rng.shuffle(listener_order)
        context = ContextSpec(tuple(images), k, tuple(speaker_order), tuple(listener_order))
        result = play_game(SpeakerContext.of(context, figures), style, seed=args.seed * 100_000 + g,
                           listener_order=context.listener_order, listener_accuracy=args.listener_accuracy)
        yield context.listener_order, context.targets, _Played(list(result.turns), [t.action for t in result.turns], result.success)


if __name__ == "__main__":
    sys.exit(main())
