"""Shared pieces of the management commands: progress bars, argument parsing, reports."""
import sys
from collections.abc import Iterable

from django.core.management.base import CommandError
from tqdm import tqdm

from games.domain.splits import SplitError, parse_fractions


def progress_bar(label: str):
    """A progress callback for services: a tqdm bar on stderr (quiet when not a terminal)."""

    def wrap(items: Iterable, total: int) -> Iterable:
        return tqdm(items, total=total, desc=label, unit="item", file=sys.stderr, leave=False,
                    disable=None, dynamic_ncols=True)

    return wrap


def fractions_arg(text: str) -> dict[str, float]:
    try:
        return parse_fractions(text)
    except SplitError as exc:
        raise CommandError(f"--split-fractions: {exc}") from None


def target_weights_arg(text: str) -> dict[int, float]:
    """Parse ``"3:0.31,4:0.38,5:0.31"``."""
    weights: dict[int, float] = {}
    try:
        for part in text.split(","):
            k, w = part.split(":")
            weights[int(k)] = float(w)
    except ValueError:
        raise CommandError(f"--target-weights: expected k:weight pairs like 3:0.31,4:0.38,5:0.31; got {text!r}")
    if not weights or any(k not in (3, 4, 5) for k in weights) or any(w < 0 for w in weights.values()):
        raise CommandError("--target-weights: target counts must be 3, 4 or 5 with non-negative weights")
    if sum(weights.values()) <= 0:
        raise CommandError("--target-weights: weights must not all be zero")
    return weights


def write_report(command, report, *, show_skipped: int = 20) -> None:
    """Skipped items one per line (to stderr), then the one-line summary (to stdout)."""
    for item, reason in report.skipped[:show_skipped]:
        command.stderr.write(f"skipped {item}: {reason}")
    if len(report.skipped) > show_skipped:
        command.stderr.write(f"... and {len(report.skipped) - show_skipped} more skipped")
    command.stdout.write(command.style.SUCCESS(report.summary()) if report.created or report.unchanged
                         else report.summary())
