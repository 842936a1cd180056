"""A whole study in simulation: rounds of the learning loop played by simulated speakers.

``run_study`` deploys the chosen systems with the initial policy, lets simulated speakers play
``games_per_round`` games per system through the same game services a person's game uses, then
advances the round (close -> decode -> train -> launch the next round with the new checkpoints), for
``rounds`` rounds; the last round is closed and decoded but not trained. The speakers deployed come
from a speaker population (``shifted`` by default) other than the one the initial policy was
pre-trained on (``plain``): the initial policy starts low because of the people's language, and the
rounds show it adapting to them.

It is resumable: the study's state (its first round and options) lives in ``OUT/study.json``; run
again with the same options, it plays only the games still missing and does only the steps not yet
done. One study runs at a time per installation (it plays the newest round of the database): a second
``run_study`` while one is working is refused (a lock on ``DATA_DIR/studies/.run_study.lock``, released
by the operating system when the process ends, so a killed study is simply run again). After every round it writes ``OUT/rounds.csv`` (success, turns per game and click accuracy with
95% bootstrap CIs; decoder precision and recall of positive feedback against the simulator's intent;
training rows; wall time) and ``OUT/success.png`` (success per round per system, shaded CIs).
"""
from __future__ import annotations

import csv
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings

from feedback.selectors import round_evaluation
from feedback.services.decoding import DecodeError, decode_round
from games import selectors as games_selectors
from games.domain.seeds import derive_seed
from games.services.rounds import RoundError, close_round, create_system, launch_round
from games.services.simulation import SimulationError, SimulationOptions, play_round_games
from games.simulation.agents.speaker import SpeakerStyle, StyleError
from training.models import PolicyCheckpoint, TrainingRun
from training.reporting.figures import plot_metric
from training.reporting.tables import outcome_row
from training.services.loop import advance_round
from training.services.report import game_records
from training.services.runs import TrainingError

Progress = Callable[[str], None]

# The study's systems by name (decoder x objective), the baselines and references.
STANDARD_SYSTEMS = {
    "B-SUP": {"decoder": "binary", "objective": "sup"},
    "T-SUP": {"decoder": "ternary", "objective": "sup"},
    "B-RL": {"decoder": "binary", "objective": "rl"},
    "T-RL": {"decoder": "ternary", "objective": "rl"},
    "B-KTO": {"decoder": "binary", "objective": "kto"},
    "T-KTO": {"decoder": "ternary", "objective": "kto"},
    "CONTROL": {"decoder": "binary", "objective": "none"},
    "FINAL-REWARD": {"decoder": "none", "objective": "final_reward"},
    "SEED-ONLY": {"decoder": "none", "objective": "seed_only"},
}
HH = "HH"  # human–human games (a simulated human listener in simulation)
DESCRIPTIONS = {
    HH: "Human-human reference games.",
    "CONTROL": "The initial policy redeployed every round (no training).",
    "FINAL-REWARD": "Baseline: REINFORCE on the game's outcome only (no decoded feedback).",
    "SEED-ONLY": "Baseline: the same training on the seed data only (no interactions).",
}


@dataclass(frozen=True)
class StudyOptions:
    out: Path
    systems: tuple[str, ...] = ("B-SUP", "CONTROL")
    rounds: int = 3
    games_per_round: int = 200
    initial: str = "seed"  # the initial policy's checkpoint name
    population: str = "shifted"
    speaker_style: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)  # hyperparameters["training"] of systems created here
    split: str = "train"
    queue_size: int = 150
    seed: int = 0
    concurrency: int = 1
    # Human–human games per round (HH: a simulated speaker and a simulated human listener): a reference
    # row, and the people's actions that select every training run's checkpoint, as in the study.
    hh_games: int = 40

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.games_per_round < 1:
            raise TrainingError("rounds and games per round must be at least 1")
        if self.hh_games < 0:
            raise TrainingError("human-human games per round cannot be negative")
        if not self.systems or len(set(self.systems)) != len(self.systems):
            raise TrainingError("name each system once")
        if HH in self.systems:
            raise TrainingError(f"{HH} is deployed with --hh-games, not as one of the systems")
        try:
            SpeakerStyle.from_dict({**self.speaker_style, "population": self.population})
        except StyleError as exc:
            raise TrainingError(f"speaker style: {exc}") from None

    def key(self) -> dict:
        """What must stay the same for a run to resume this study."""
        return {"systems": list(self.systems), "rounds": self.rounds, "games_per_round": self.games_per_round,
                "initial": self.initial, "population": self.population, "seed": self.seed, "hh_games": self.hh_games}

    @property
    def deployed(self) -> tuple[str, ...]:
        """Every system a round deploys: the chosen ones, then HH when it plays."""
        return self.systems + ((HH,) if self.hh_games else ())

    def games_of(self, system: str) -> int:
        return self.hh_games if system == HH else self.games_per_round


@dataclass
class StudyRow:
    round: int
    system: str
    games: int
    success: float
    success_low: float
    success_high: float
    turns: float
    turns_low: float
    turns_high: float
    click_accuracy: float | None
    click_low: float | None
    click_high: float | None
    decoder_precision: float | None
    decoder_recall: float | None
    training_rows: int | None
    interaction_rows: int | None
    round_seconds: float | None


def ensure_human_human_system() -> None:
    """The HH system (a person listens), as the study and the demo deploy it."""
    create_system(HH, listener_kind="human", description=DESCRIPTIONS[HH])


def ensure_systems(options: StudyOptions) -> None:
    if options.hh_games:
        try:
            ensure_human_human_system()
        except RoundError as exc:
            raise TrainingError(str(exc)) from None
    for name in options.systems:
        if name not in STANDARD_SYSTEMS:
            continue  # an existing system of the researcher's own making (checked at launch)
        definition = STANDARD_SYSTEMS[name]
        hyperparameters = {"training": dict(options.training)} if options.training and definition["objective"] != "none" else None
        try:
            create_system(name, listener_kind="model", description=DESCRIPTIONS.get(name, ""),
                          hyperparameters=hyperparameters, **definition)
        except RoundError as exc:
            raise TrainingError(str(exc)) from None


def _state(options: StudyOptions) -> dict:
    path = options.out / "study.json"
    if path.is_file():
        state = json.loads(path.read_text())
        if isinstance(state.get("options"), dict) and "hh_games" not in state["options"]:
            # A study begun before human–human games were part of one (it deployed none) resumes instead of
            # being refused; its remaining rounds take this run's --hh-games.
            state["options"]["hh_games"] = options.hh_games
        if state.get("options") != options.key():
            raise TrainingError(f"{path} belongs to a study with other options ({state.get('options')}); "
                                f"use another --out folder")
        return state
    latest = games_selectors.latest_round_number()
    if latest is not None and games_selectors.round_plan(latest)["status"] == "open":
        raise TrainingError(f"round {latest} is open: close it first (close_round --round {latest} --force)")
    state = {"first_round": (latest or 0) + 1, "options": options.key(), "seconds": {}}
    options.out.mkdir(parents=True, exist_ok=True)
    _save_state(options, state)
    return state


def _save_state(options: StudyOptions, state: dict) -> None:
    path = options.out / "study.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


def _play_missing(options: StudyOptions, number: int, style: SpeakerStyle, progress: Progress) -> None:
    for dep in games_selectors.round_deployments(number):
        missing = options.games_of(dep["system_name"]) - dep["games"]
        if missing <= 0:
            continue
        progress(f"round {number}: {dep['system_name']} plays {missing} games ...")
        try:
            play_round_games(
                count=missing, seed=derive_seed(options.seed, number, dep["system_name"], dep["games"]),
                round_number=number, systems=[dep["system_name"]],
                options=SimulationOptions(style=style), concurrency=options.concurrency,
            )
        except SimulationError as exc:
            raise TrainingError(str(exc)) from None


@contextmanager
def one_study_at_a_time() -> Iterator[None]:
    """Hold the installation's study lock, or refuse: two studies at once would play the same round
    and each top it up to its own count (more games than asked, in one database)."""
    path = Path(settings.DATA_DIR) / "studies" / ".run_study.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise TrainingError(f"another run_study is working on this installation ({holder}); "
                                f"wait for it to finish or stop it, then run again") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_study(options: StudyOptions, progress: Progress = lambda message: None) -> list[StudyRow]:
    with one_study_at_a_time():
        return _run_study(options, progress)


def _run_study(options: StudyOptions, progress: Progress) -> list[StudyRow]:
    initial = PolicyCheckpoint.objects.filter(name=options.initial).first()
    if initial is None:
        raise TrainingError(f"no checkpoint named {options.initial!r} (train_seed makes 'seed')")
    ensure_systems(options)
    style = SpeakerStyle.from_dict({**options.speaker_style, "population": options.population})
    state = _state(options)
    first = state["first_round"]
    last = first + options.rounds - 1
    for number in range(first, last + 1):
        started = time.monotonic()
        plan = _plan_or_none(number)
        if plan is None:
            if number == first:
                try:
                    launch_round(
                        systems=[(name, None if name == HH else initial.pk) for name in options.deployed],
                        number=number,
                        queue_size=options.queue_size, split=options.split, seed=options.seed + number,
                    )
                except RoundError as exc:
                    raise TrainingError(str(exc)) from None
            else:
                advance_round(number - 1, force=True, progress=progress)  # finish what a crash cut short
            plan = _plan_or_none(number)
        if plan["status"] == "open":
            _play_missing(options, number, style, progress)
        if number < last:
            advance_round(number, force=True, progress=progress)
        else:
            _close_and_decode(number, progress)
        seconds = state["seconds"]
        seconds[str(number)] = round(seconds.get(str(number), 0) + time.monotonic() - started, 1)
        _save_state(options, state)
        rows = study_rows(first, number, options.deployed, seconds, seed=options.seed)
        write_outputs(options.out, rows)
        for row in rows:
            if row.round == number:
                progress(_line(row))
    return study_rows(first, last, options.deployed, state["seconds"], seed=options.seed)


def _plan_or_none(number: int) -> dict | None:
    try:
        return games_selectors.round_plan(number)
    except LookupError:
        return None


def _close_and_decode(number: int, progress: Progress) -> None:
    try:
        close_round(number, force=True)
        if games_selectors.round_plan(number)["status"] == "closed":
            decode_round(number, mark_decoded=True, progress=progress)
    except (RoundError, DecodeError) as exc:
        raise TrainingError(str(exc)) from None


# --- the table and the plot ---------------------------------------------------------------------------


def study_rows(first: int, last: int, systems: Sequence[str], seconds: dict, *, seed: int = 0) -> list[StudyRow]:
    rows = []
    for number in range(first, last + 1):
        try:
            deployments = {d["system_name"]: d for d in games_selectors.round_deployments(number)}
        except LookupError:
            continue
        evaluation = {}
        if games_selectors.round_plan(number)["status"] in ("decoded", "trained"):
            for group in round_evaluation(number, truths=("intent",)):
                positive = group.evaluation.per_class.get("positive")
                evaluation[group.system_name] = (positive.precision, positive.recall) if positive else (None, None)
        for name in systems:
            dep = deployments.get(name)
            if dep is None:
                continue
            games = games_selectors.recorded_games(
                games_selectors.system_game_ids(dep["system_id"], number, first_round=number)
            )
            outcome = outcome_row(number, name, game_records(games), seed=seed)  # the report's own numbers
            if outcome is None:
                continue
            run = TrainingRun.objects.filter(round__number=number, system_id=dep["system_id"]).first()
            stats = run.dataset_stats if run is not None else {}
            precision, recall = evaluation.get(name, (None, None))
            rows.append(StudyRow(
                round=number, system=name, games=outcome.games, success=outcome.success,
                success_low=outcome.success_low, success_high=outcome.success_high, turns=outcome.turns,
                turns_low=outcome.turns_low, turns_high=outcome.turns_high, click_accuracy=outcome.click_accuracy,
                click_low=outcome.click_low, click_high=outcome.click_high,
                decoder_precision=precision, decoder_recall=recall,
                training_rows=stats.get("rows"), interaction_rows=stats.get("interaction_rows"),
                round_seconds=seconds.get(str(number)),
            ))
    return rows


def _fmt(value, pattern="{:.1%}"):
    return "—" if value is None else pattern.format(value)


def _line(row: StudyRow) -> str:
    return (f"round {row.round} {row.system:<13} {row.games:>4} games  success {_fmt(row.success)} "
            f"[{_fmt(row.success_low)}, {_fmt(row.success_high)}]  turns {row.turns:.2f}  "
            f"clicks {_fmt(row.click_accuracy)}  decoder P/R {_fmt(row.decoder_precision, '{:.3f}')}/"
            f"{_fmt(row.decoder_recall, '{:.3f}')}  train rows {row.training_rows if row.training_rows is not None else '—'}")


def table_text(rows: Sequence[StudyRow]) -> str:
    return "\n".join(_line(r) for r in rows)


def write_outputs(out: Path, rows: Sequence[StudyRow]) -> tuple[Path, Path]:
    """``rounds.csv`` and ``success.png`` in ``out`` (written to a temporary name, then renamed)."""
    out.mkdir(parents=True, exist_ok=True)
    table = out / "rounds.csv"
    tmp = out / "rounds.csv.tmp"
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(StudyRow.__dataclass_fields__))
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    tmp.replace(table)
    return table, plot_success(out / "success.png", rows)


def plot_success(path: Path, rows: Sequence[StudyRow]) -> Path:
    return plot_metric(path, rows, value="success", low="success_low", high="success_high", scale=100,
                       ylabel="task success (%)", ylim=(0, 100), title="Success per round (95% bootstrap CIs)")


__all__ = ["STANDARD_SYSTEMS", "StudyOptions", "StudyRow", "run_study", "study_rows", "table_text", "write_outputs"]
