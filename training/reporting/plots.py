"""Which plots a report draws from its tables, and their file names (pure)."""
from __future__ import annotations

import re
from pathlib import Path

from feedback.domain.metrics import MISSING
from feedback.domain.labels import UNPARSED
from training.reporting.figures import plot_confusions, plot_language, plot_losses, plot_metric
from training.reporting.tables import VIEWS, ReportTables

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def confusion_file_name(system: str, decoder: str, version: str, view: str) -> str:
    return "confusion_" + "_".join(_UNSAFE.sub("-", part) for part in (system, decoder, version, view)) + ".png"


def confusion_matrices(tables: ReportTables) -> dict[tuple[str, str, str, str], list]:
    """(system, decoder, version, view) -> one matrix per round: (subtitle, truth classes, label columns,
    shares of the grand total). Unparsed / missing columns are drawn only where a matrix has some."""
    cells: dict[tuple, dict[tuple[str, str], float]] = {}
    for c in tables.confusion:
        cells.setdefault((c.system, c.decoder, c.version, c.view, c.round), {})[(c.truth, c.label)] = c.share or 0.0
    out: dict[tuple[str, str, str, str], list] = {}
    for (system, decoder, version, view, number), shares in sorted(cells.items(), key=lambda kv: kv[0]):
        classes = list(VIEWS[view])
        extra = [label for label in (UNPARSED, MISSING) if any(shares.get((t, label), 0) for t in classes)]
        labels = classes + extra
        matrix = [[shares.get((t, label), 0.0) for label in labels] for t in classes]
        out.setdefault((system, decoder, version, view), []).append((f"round {number}", classes, labels, matrix))
    return out


def write_plots(out: Path, tables: ReportTables) -> list[Path]:
    """Every plot of a report, written into ``out``; returns their paths in report order."""
    rows = tables.outcomes
    paths = [
        plot_metric(out / "success.png", rows, value="success", low="success_low", high="success_high", scale=100,
                    ylabel="task success (%)", ylim=(0, 100), title="Success per round (95% bootstrap CIs)"),
        plot_metric(out / "success_by_interactions.png", rows, value="success", low="success_low",
                    high="success_high", x="interactions_before", scale=100, ylabel="task success (%)",
                    ylim=(0, 100), xlabel="interactions before the round",
                    title="Success against interactions gathered before the round"),
        plot_metric(out / "turns.png", rows, value="turns", low="turns_low", high="turns_high",
                    ylabel="turns per game", title="Turns per game (95% bootstrap CIs)"),
        plot_metric(out / "click_accuracy.png", rows, value="click_accuracy", low="click_low", high="click_high",
                    scale=100, ylabel="click accuracy (%)", ylim=(0, 100),
                    title="Click accuracy, micro (95% bootstrap CIs)"),
        plot_language(out / "language.png", tables.language),
        plot_losses(out / "losses.png", tables.losses),
    ]
    if tables.annotations:
        paths.append(plot_metric(
            out / "annotations.png", tables.annotations, value="similarity", low="similarity_low",
            high="similarity_high", ylabel="Sim(model action, gold action)", ylim=(0, 1),
            title="Similarity of the model's action to the gold action",
        ))
    for (system, decoder, version, view), matrices in confusion_matrices(tables).items():
        paths.append(plot_confusions(
            out / confusion_file_name(system, decoder, version, view), matrices,
            title=f"{system}: {decoder} {version} vs annotations\n({view} view, shares of all scored turns)",
        ))
    return paths


__all__ = ["confusion_file_name", "confusion_matrices", "write_plots"]
