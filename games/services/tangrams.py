"""Creating tangrams: generated figures and KILOGRAM imports.

Both paths end in ``_store``: one transaction per run, rows derived from the polygons by the pure
renderers, existing names never overwritten (configs point at them).
"""
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from games.domain.kilogram_svg import KilogramFormatError, kilogram_name, parse_kilogram_svg
from games.domain.splits import SPLITS, assign_splits
from games.domain.tangram_render import render_png, render_svg
from games.domain.tangrams import TangramFigure, generate_figures
from games.models import NAME_VALIDATOR, Tangram
from games.services.bulk import BulkReport, Progress, list_input_files, no_progress

MAX_SVG_BYTES = 1_000_000
BATCH_SIZE = 200


@dataclass(frozen=True)
class _Candidate:
    name: str
    figure: TangramFigure
    source: str
    seed: int | None = None
    source_file: str = ""


def generate_tangrams(
    *, count: int, seed: int, fractions: Mapping[str, float], prefix: str = "gen", progress: Progress = no_progress
) -> BulkReport:
    """Generate ``count`` figures under ``seed``; figure i is the same whatever the count."""
    if count < 1:
        raise ValueError("count must be at least 1")
    _validate_name(f"{prefix}{seed}-0000")
    figures = generate_figures(count, seed)
    candidates = [
        _Candidate(name=f"{prefix}{seed}-{i:04d}", figure=fig, source=Tangram.Source.GENERATED, seed=seed)
        for i, fig in enumerate(figures)
    ]
    report = BulkReport(noun="tangrams")
    _store(candidates, report, fractions=fractions, seed=seed, progress=progress)
    return report


def import_kilogram(
    path: Path,
    *,
    fractions: Mapping[str, float],
    seed: int,
    splits: Mapping[str, str] | None = None,
    progress: Progress = no_progress,
) -> BulkReport:
    """Import a folder (or one file) of KILOGRAM-format SVGs.

    A bad or foreign file is reported by name and skipped; the good ones are stored together in
    one transaction. ``splits`` (name -> split) fixes the split of each image; without it, new
    images are split by ``fractions`` under ``seed``.
    """
    files = list_input_files(path)
    report = BulkReport(noun="tangrams")
    candidates: list[_Candidate] = []
    seen: set[str] = set()
    for file in progress(files, len(files)):
        label = file.name
        if file.suffix.lower() != ".svg":
            report.skip(label, "not an .svg file")
            continue
        name = kilogram_name(file.name)
        try:
            _validate_name(name)
        except ValueError as exc:
            report.skip(label, str(exc))
            continue
        if name in seen:
            report.skip(label, f"another file already gave the name {name!r}")
            continue
        if splits is not None and name not in splits:
            report.skip(label, "not listed in the splits file")
            continue
        try:
            if file.stat().st_size > MAX_SVG_BYTES:
                raise KilogramFormatError(f"file is larger than {MAX_SVG_BYTES // 1_000_000} MB")
            figure = parse_kilogram_svg(file.read_bytes())
        except KilogramFormatError as exc:
            report.skip(label, str(exc))
            continue
        except OSError as exc:
            report.skip(label, f"cannot read file: {exc.strerror or exc}")
            continue
        seen.add(name)
        candidates.append(_Candidate(name=name, figure=figure, source=Tangram.Source.KILOGRAM, source_file=label))
    _store(candidates, report, fractions=fractions, seed=seed, fixed_splits=splits)
    return report


def _validate_name(name: str) -> None:
    try:
        NAME_VALIDATOR(name)
    except ValidationError:
        raise ValueError(f"{name!r} is not a valid tangram name (letters, digits, '.', '_', '-')") from None


@transaction.atomic
def _store(
    candidates: list[_Candidate],
    report: BulkReport,
    *,
    fractions: Mapping[str, float],
    seed: int,
    fixed_splits: Mapping[str, str] | None = None,
    progress: Progress = no_progress,
) -> None:
    existing = {
        t.name: t.polygons for t in Tangram.objects.filter(name__in=[c.name for c in candidates]).only("name", "polygons")
    }
    new: list[_Candidate] = []
    for c in candidates:
        if c.name not in existing:
            new.append(c)
        elif existing[c.name] == c.figure.to_json():
            report.unchanged.append(c.name)
        else:
            report.skip(c.source_file or c.name, f"a different tangram named {c.name!r} already exists")
    if fixed_splits is not None:
        split_of = {c.name: fixed_splits[c.name] for c in new}
    else:
        split_of = assign_splits([c.name for c in new], fractions, seed)
    rows = []
    for c in progress(new, len(new)):
        if split_of[c.name] not in SPLITS:
            raise ValueError(f"unknown split {split_of[c.name]!r} for {c.name}")
        rows.append(
            Tangram(
                name=c.name,
                source=c.source,
                split=split_of[c.name],
                polygons=c.figure.to_json(),
                svg=render_svg(c.figure, title=f"Tangram {c.name}"),
                png=render_png(c.figure),
                seed=c.seed,
                source_file=c.source_file,
            )
        )
    Tangram.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    report.created.extend(r.name for r in rows)
    report.by_split.update(r.split for r in rows)
