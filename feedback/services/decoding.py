"""Decoding the feedback of a round: which decoder a system uses, and storing its labels.

Idempotent: a turn that already has a label of the decoder's (name, version) is skipped, so a
re-run adds nothing and resumes an interrupted run; a new prompt or rule version adds a new label
set beside the old one. Labels are inserted, never updated (``FeedbackLabel``), in one transaction
per chunk with conflicts ignored, so two workers racing on the same round cannot duplicate a label.

The last turn of a game has no follow-up and gets no label. An optional, separately named signal
(``final-outcome``, off by default) labels the last turn of a *successful* game positive: its
action completed the target set. Unsuccessful last turns stay unlabelled (the outcome alone cannot
tell a bad last action from a good one that came too late).
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from feedback.decoders.base import DecoderUnavailable, FeedbackDecoder
from feedback.decoders.choice import DecodeError, DecoderChoice, choose_decoder
from feedback.decoders.registry import build_decoder
from feedback.domain.labels import POSITIVE, DecodedLabel
from feedback.domain.windows import FeedbackWindow, windows_of_game
from feedback.models import FeedbackLabel
from feedback.selectors import labelled_turn_ids

log = logging.getLogger(__name__)

FINAL_OUTCOME = "final-outcome"
FINAL_OUTCOME_VERSION = "outcome-v1"
CHUNK = 256  # windows decoded and stored per transaction

Progress = Callable[[str], None]


def store_labels(windows: Sequence[FeedbackWindow], labels: Sequence[DecodedLabel], decoder: str, version: str) -> int:
    """Insert one label per window (keyed by turn id); existing labels are left alone. Returns how
    many rows were new."""
    if len(windows) != len(labels):
        raise ValueError("one label per window")
    turn_ids = [w.key for w in windows]
    with transaction.atomic():
        before = len(labelled_turn_ids(turn_ids, decoder, version))
        FeedbackLabel.objects.bulk_create(
            [
                FeedbackLabel(
                    turn_id=w.key, decoder=decoder, prompt_version=version, label=d.label,
                    raw_output=d.raw_output[:10000], details=dict(d.details),
                )
                for w, d in zip(windows, labels)
            ],
            ignore_conflicts=True,
        )
        after = len(labelled_turn_ids(turn_ids, decoder, version))
    return after - before


@dataclass
class DeploymentReport:
    deployment_id: int
    system_name: str
    decoder: str | None
    version: str | None
    note: str = ""
    games: int = 0
    turns: int = 0
    no_follow_up: int = 0  # last turns (no next utterance)
    already: int = 0  # skipped: labelled before
    added: Counter = field(default_factory=Counter)  # label -> new rows
    final_outcome_added: int = 0

    def to_dict(self) -> dict:
        return {**self.__dict__, "added": dict(self.added)}


@dataclass
class DecodeReport:
    round_number: int
    deployments: list[DeploymentReport] = field(default_factory=list)
    marked_decoded: bool = False

    @property
    def added(self) -> int:
        return sum(sum(d.added.values()) for d in self.deployments)

    def to_dict(self) -> dict:
        return {
            "round": self.round_number, "added": self.added, "marked_decoded": self.marked_decoded,
            "deployments": [d.to_dict() for d in self.deployments],
        }


def decode_round(
    round_number: int,
    *,
    system_name: str | None = None,
    decoder_name: str | None = None,
    decoder: FeedbackDecoder | None = None,
    final_turn_outcome: bool = False,
    mark_decoded: bool = False,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> DecodeReport:
    """Decode every labelable turn of a round (or of one system in it) and store the labels.

    ``decoder_name`` replaces each system's own decoder; ``decoder`` (an instance, for tests and
    benchmarks) replaces both. ``mark_decoded`` moves a closed round to ``decoded`` afterwards, only
    after a full run (every system, its own decoder). Bad input raises DecodeError before anything is
    written.
    """
    from games.selectors import feedback_deployments, feedback_games

    say = progress or (lambda _msg: None)
    try:
        deployments = feedback_deployments(round_number, system_name)
    except LookupError as exc:
        raise DecodeError(str(exc)) from None
    if deployments and deployments[0]["round_status"] == "draft":
        raise DecodeError(f"round {round_number} is a draft: nothing has been played")
    if mark_decoded and (system_name or decoder_name or decoder):
        raise DecodeError("--mark-decoded needs a full run: every system, each with its own decoder")
    if decoder is not None:
        choices = {d["deployment_id"]: DecoderChoice(decoder.name, None) for d in deployments}
    else:
        choices = {
            d["deployment_id"]: choose_decoder(d["system_decoder"], d["base_model"], override=decoder_name)
            for d in deployments
        }
    built: dict[tuple, FeedbackDecoder] = {}
    report = DecodeReport(round_number)
    for dep in deployments:
        choice = choices[dep["deployment_id"]]
        version = decoder.prompt_version if decoder is not None else choice.version
        item = DeploymentReport(dep["deployment_id"], dep["system_name"], choice.name, version, choice.note)
        report.deployments.append(item)
        if choice.note:
            say(f"{dep['system_name']}: {choice.note}")
        if choice.name is None:
            say(f"{dep['system_name']}: decoder none, nothing to decode")
            continue
        games = feedback_games(deployment_ids=[dep["deployment_id"]])
        windows = [w for g in games for w in windows_of_game(g)]
        item.games = len(games)
        item.turns = sum(len(g["turns"]) for g in games)
        item.no_follow_up = item.turns - len(windows)
        done = labelled_turn_ids([w.key for w in windows], choice.name, version)
        todo = [w for w in windows if w.key not in done]
        item.already = len(windows) - len(todo)
        say(f"{dep['system_name']}: {len(games)} games, {len(windows)} turns with a follow-up, "
            f"{item.already} already labelled, {len(todo)} to decode with {choice.name} {version}")
        if todo:
            active = decoder or _build(built, choice, batch_size)
            for start in range(0, len(todo), CHUNK):
                chunk = todo[start: start + CHUNK]
                labels = active.decode(chunk)
                store_labels(chunk, labels, active.name, active.prompt_version)
                item.added.update(d.label for d in labels)
                say(f"  {min(start + CHUNK, len(todo))}/{len(todo)} decoded")
        if final_turn_outcome:
            item.final_outcome_added = label_final_turns(games)
            say(f"  {item.final_outcome_added} last turns of successful games labelled {FINAL_OUTCOME}")
    if mark_decoded and deployments:
        report.marked_decoded = _mark_decoded(deployments[0]["round_id"], deployments[0]["round_status"])
    return report


def _build(built: dict, choice: DecoderChoice, batch_size: int | None) -> FeedbackDecoder:
    key = (choice.name, str(choice.base_path))
    if key not in built:
        try:
            built[key] = build_decoder(
                choice.name, base_path=choice.base_path, batch_size=batch_size or settings.FEEDBACK_BATCH_SIZE,
                max_input_tokens=settings.FEEDBACK_MAX_INPUT_TOKENS,
            )
        except DecoderUnavailable as exc:
            raise DecodeError(str(exc)) from exc
    return built[key]


def label_final_turns(games: Sequence[Mapping]) -> int:
    """The optional outcome signal: the last turn of each successful game, labelled positive under
    the decoder name ``final-outcome``. Returns how many labels were new."""
    windows, labels = [], []
    for game in games:
        if game["end_reason"] == "success" and game["turns"]:
            last = game["turns"][-1]
            windows.append(FeedbackWindow(utterance=last["utterance"], action="", next_utterance="", key=last["id"]))
            labels.append(DecodedLabel(POSITIVE, "success", {"signal": "the game ended successfully on this turn"}))
    return store_labels(windows, labels, FINAL_OUTCOME, FINAL_OUTCOME_VERSION) if windows else 0


def _mark_decoded(round_id: int, status: str) -> bool:
    from games.services.lifecycle import TransitionError, transition_round

    if status != "closed":
        return False
    try:
        transition_round(round_id, "decoded")
    except TransitionError:
        return False
    return True


def decoder_for_deployment(deployment: Mapping) -> DecoderChoice:
    """The decoder ``decode_round`` uses for a deployment (from ``games.selectors.feedback_deployments``):
    training reads that system's labels under ``choice.name`` / ``choice.version``."""
    return choose_decoder(deployment["system_decoder"], deployment["base_model"])


__all__ = [
    "FINAL_OUTCOME", "FINAL_OUTCOME_VERSION", "DecodeError", "DecoderChoice", "choose_decoder", "store_labels",
    "DeploymentReport", "DecodeReport", "decode_round", "label_final_turns", "decoder_for_deployment",
]
