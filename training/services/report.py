"""The study report: per round and system, the games' outcomes, the language, the model's actions
and the feedback decoders against the final human labels, and the training runs, as CSV tables and
PNG plots (``report`` command; the staff dashboard shows the same files).

It reads through the apps' selectors and computes with the pure ``training.reporting`` modules.
Columns, plots and definitions are in ``docs/report.md``.
"""
from __future__ import annotations

import csv
import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings

from feedback.selectors import final_annotations, label_sets, labels_by_turn
from games import selectors as games_selectors
from games.domain import rules
from games.domain.similarity import FigureSimilarity, SimilarityError
from training import selectors as training_selectors
from training.reporting.plots import write_plots
from training.reporting.tables import (
    DEFAULT_RESAMPLES, AnnotatedTurn, GameRecord, ReportTables, annotation_row, decoder_tables, language_row,
    outcome_row, training_tables,
)

Progress = Callable[[str], None]
MANIFEST = "report.json"


class ReportError(ValueError):
    """Bad report options (an unknown round or system, too few resamples): nothing was written."""


@dataclass(frozen=True)
class ReportOptions:
    rounds: tuple[int, ...] | None = None  # None: every round
    systems: tuple[str, ...] | None = None  # None: every system deployed in those rounds
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0


def game_records(games: Sequence[games_selectors.RecordedGame]) -> list[GameRecord]:
    """Recorded games as the report's records: outcome, one bool per toggled image, utterances."""
    return [
        GameRecord(
            succeeded=g.succeeded, turns=len(g.state.history),
            clicks=tuple(c for p in g.state.history for c in rules.click_outcomes(p.action, g.state.targets)),
            utterances=tuple(p.utterance for p in g.state.history),
        )
        for g in games
    ]


def _rounds(options: ReportOptions) -> list[int]:
    if options.rounds is not None:
        for number in options.rounds:
            try:
                games_selectors.round_plan(number)
            except LookupError:
                raise ReportError(f"no round {number}") from None
        return sorted(set(options.rounds))
    latest = games_selectors.latest_round_number()
    numbers = []
    for number in range(0, (latest or 0) + 1):
        try:
            games_selectors.round_plan(number)
        except LookupError:
            continue
        numbers.append(number)
    return numbers


def _check(options: ReportOptions) -> None:
    if options.resamples < 1:
        raise ReportError("--resamples must be at least 1")
    for name in options.systems or ():
        try:
            games_selectors.system_id_by_name(name)
        except LookupError:
            raise ReportError(f"no system {name!r}") from None


def build_report(options: ReportOptions, progress: Progress = lambda message: None) -> ReportTables:
    """Every table of the report (ReportError on bad options)."""
    _check(options)
    numbers = _rounds(options)
    wanted = set(options.systems) if options.systems is not None else None
    tables = ReportTables([], [], [], [], [], [], [])
    sets = [(s["decoder"], s["prompt_version"]) for s in label_sets()]
    similarity_cache: dict[str, object] = {}
    for number in numbers:
        for dep in games_selectors.round_deployments(number):
            system = dep["system_name"]
            if wanted is not None and system not in wanted:
                continue
            progress(f"round {number}: {system} ...")
            games = games_selectors.recorded_games(
                games_selectors.system_game_ids(dep["system_id"], number, first_round=number)
            )
            before = len(games_selectors.system_game_ids(dep["system_id"], number - 1)) if number > 0 else 0
            records = game_records(games)
            row = outcome_row(number, system, records, interactions_before=before, resamples=options.resamples,
                              seed=options.seed)
            if row is None:
                continue
            tables.outcomes.append(row)
            tables.language.append(language_row(number, system, records))
            _annotations(tables, number, system, games, sets, similarity_cache, options)
    for run in training_selectors.training_runs(numbers, options.systems):
        row, points = training_tables(run)
        tables.training.append(row)
        tables.losses += points
    return tables


def _annotations(tables: ReportTables, number: int, system: str, games, sets, cache: dict, options) -> None:
    """The annotation and decoder rows of one round and system (nothing when no turn has a final label)."""
    turns = {t.id: (g, past) for g in games for t, past in zip(g.turns, g.state.history)}
    finals = final_annotations(turns)
    if not finals:
        return
    annotated = []
    for turn_id, final in finals.items():
        _, past = turns[turn_id]
        annotated.append(AnnotatedTurn(
            selected=past.select, deselected=past.deselect, feedback=final.feedback, correctness=final.correctness,
            gold_selected=frozenset(final.gold_selected) if final.gold_selected is not None else None,
            gold_deselected=frozenset(final.gold_deselected) if final.gold_deselected is not None else None,
        ))
    names = {n for t in annotated if t.has_gold for n in (*t.selected, *t.deselected, *t.gold[0], *t.gold[1])}
    missing = names - cache.keys()
    if missing:
        cache.update(training_selectors.library_figures(missing))
    try:
        row = annotation_row(number, system, annotated, FigureSimilarity(cache), resamples=options.resamples,
                             seed=options.seed)
    except SimilarityError as exc:
        raise ReportError(f"round {number}, {system}: a gold action names an unknown image ({exc})") from None
    tables.annotations.append(row)
    ids = sorted(finals)
    for decoder, version in sets:
        labels = labels_by_turn(ids, decoder, version)
        if not labels:
            continue
        pairs = [(labels.get(i), finals[i].feedback) for i in ids if finals[i].feedback]
        rows, cells, _ = decoder_tables(number, system, decoder, version, pairs)
        tables.decoders += rows
        tables.confusion += cells


# --- files -----------------------------------------------------------------------------------------------


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def write_report(out: Path, options: ReportOptions, progress: Progress = lambda message: None) -> dict:
    """Write the report into ``out``: one CSV per table, the PNG plots and ``report.json`` (what was
    written, with the options). Everything is built in a temporary folder first, so bad options or a
    failure leave ``out`` as it was. Returns the manifest."""
    tables = build_report(options, progress)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".report-", dir=out.parent))
    try:
        manifest_tables = []
        for name, title, columns, rows in tables.named():
            with (staging / f"{name}.csv").open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
            manifest_tables.append({"name": name, "title": title, "file": f"{name}.csv", "rows": len(rows)})
        progress("plots ...")
        plots = [p.name for p in write_plots(staging, tables)]
        manifest = {
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "options": {"rounds": list(options.rounds) if options.rounds is not None else None,
                        "systems": list(options.systems) if options.systems is not None else None,
                        "resamples": options.resamples, "seed": options.seed},
            "tables": manifest_tables,
            "plots": plots,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        out.mkdir(parents=True, exist_ok=True)
        for stale in _listed_files(out):  # files of the older report here that this one does not write
            if not (staging / stale).exists():
                (out / stale).unlink(missing_ok=True)
        for item in staging.iterdir():
            item.replace(out / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _listed_files(folder: Path) -> list[str]:
    """The files the report in ``folder`` (if any) lists in its manifest; other files are never touched."""
    path = folder / MANIFEST
    if not path.is_file():
        return []
    try:
        manifest = json.loads(path.read_text())
        names = [t["file"] for t in manifest["tables"]] + list(manifest["plots"])
    except (ValueError, KeyError, TypeError):
        return []
    return [n for n in names if isinstance(n, str) and Path(n).name == n]


# --- the staff dashboard --------------------------------------------------------------------------------


def dashboard_folder() -> Path:
    """Where the dashboard's report lives: ``DATA_DIR/reports/dashboard``."""
    return Path(settings.DATA_DIR) / "reports" / "dashboard"


def _display(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    if value.lstrip("-").isdigit():
        return value
    return f"{number:.3f}"


def read_report(folder: Path) -> dict | None:
    """A written report for display: its manifest with each table's ``columns`` and ``rows`` (cells as
    text, numbers to 3 decimals) read back from its CSV; None when the folder holds no report."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text())
    for table in manifest["tables"]:
        with (folder / table["file"]).open(newline="") as handle:
            reader = csv.reader(handle)
            table["columns"] = next(reader, [])
            table["cells"] = [[_display(v) for v in row] for row in reader]
    manifest["plots"] = [p for p in manifest["plots"] if (folder / p).is_file()]
    return manifest


def report_file(folder: Path, name: str) -> Path | None:
    """A file of the report in ``folder`` by name (a PNG or CSV it lists); None for anything else."""
    manifest_path = Path(folder) / MANIFEST
    if not manifest_path.is_file():
        return None
    manifest = json.loads(manifest_path.read_text())
    allowed = set(manifest["plots"]) | {t["file"] for t in manifest["tables"]}
    if name not in allowed or not (Path(folder) / name).is_file():
        return None
    return Path(folder) / name


__all__ = [
    "ReportError", "ReportOptions", "MANIFEST", "game_records", "build_report", "write_report", "dashboard_folder",
    "read_report", "report_file",
]
