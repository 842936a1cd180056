"""The study report's plots (pure: matplotlib on the Agg backend, no Django), in the style of the
study's figures. Every function writes a PNG to a temporary name, renames it over ``path`` and
returns ``path``."""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

CONFUSION_VMAX = 0.6  # the study's colour range (0 - 0.6) of matrices normalised by the grand total


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    plt = _pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.tight_layout()
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_metric(
    path: Path, rows: Sequence, *, value: str, low: str | None = None, high: str | None = None, x: str = "round",
    scale: float = 1.0, ylabel: str = "", title: str = "", ylim: tuple[float, float] | None = None,
    xlabel: str | None = None,
) -> Path:
    """One line per system of ``value`` against ``x`` (attributes of ``rows``: round and system, e.g.
    ``OutcomeRow`` or ``StudyRow``), with the CI between ``low`` and ``high`` shaded. Rows whose value
    is None are left out."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    usable = [r for r in rows if getattr(r, value) is not None]
    for system in dict.fromkeys(r.system for r in usable):
        mine = sorted((r for r in usable if r.system == system), key=lambda r: (getattr(r, x), r.round))
        xs = [getattr(r, x) for r in mine]
        (line,) = ax.plot(xs, [scale * getattr(r, value) for r in mine], marker="o", label=system)
        if low and high and len(xs) == 1:  # a band needs two points: show the interval as a bar
            ax.errorbar(xs, [scale * getattr(mine[0], value)],
                        yerr=[[scale * (getattr(mine[0], value) - getattr(mine[0], low))],
                              [scale * (getattr(mine[0], high) - getattr(mine[0], value))]],
                        color=line.get_color(), capsize=4, alpha=0.6)
        elif low and high:
            ax.fill_between(xs, [scale * getattr(r, low) for r in mine], [scale * getattr(r, high) for r in mine],
                            alpha=0.2, color=line.get_color())
    ax.set_xlabel(xlabel or x.replace("_", " "))
    ax.set_ylabel(ylabel or value.replace("_", " "))
    if ylim is not None:
        ax.set_ylim(*ylim)
    if usable and x == "round":
        ax.set_xticks(sorted({r.round for r in usable}))
    ax.grid(alpha=0.3)
    if usable:
        ax.legend(loc="best", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    return _save(fig, path)


def plot_confusions(path: Path, matrices: Sequence[tuple[str, Sequence[str], Sequence[str], Sequence[Sequence[float]]]],
                    *, title: str = "") -> Path:
    """Confusion matrices side by side: each (subtitle, truth classes, label columns, shares of the
    grand total), drawn with the colour range 0-0.6 and every cell annotated."""
    plt = _pyplot()
    count = max(1, len(matrices))
    cols = min(count, 4)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(5.0, 3.2 * cols + 1.0), 3.0 * rows + 0.8), dpi=110,
                             squeeze=False, layout="constrained")
    image = None
    for ax, (subtitle, truths, labels, shares) in zip(axes.flat, matrices):
        image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=CONFUSION_VMAX)
        ax.set_xticks(range(len(labels)), [l[:3] for l in labels])
        ax.set_yticks(range(len(truths)), [t[:3] for t in truths])
        ax.set_xlabel("decoder")
        ax.set_ylabel("annotators")
        ax.set_title(subtitle, fontsize="medium")
        for i, row in enumerate(shares):
            for j, share in enumerate(row):
                ax.text(j, i, f"{share:.2f}", ha="center", va="center", fontsize="small",
                        color="white" if share > CONFUSION_VMAX / 2 else "black")
    for ax in list(axes.flat)[len(matrices):]:
        ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
    if title:
        fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp)  # constrained layout (not tight_layout) places the shared colour bar
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_losses(path: Path, points: Sequence) -> Path:
    """Training loss against step, one panel per system, one line per round (``CurvePoint`` rows of
    the ``train_loss`` curve)."""
    plt = _pyplot()
    losses = [p for p in points if p.curve == "train_loss"]
    systems = list(dict.fromkeys(p.system for p in losses)) or ["(no training runs)"]
    cols = min(len(systems), 3)
    rows = math.ceil(len(systems) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), dpi=110, squeeze=False)
    for ax, system in zip(axes.flat, systems):
        mine = [p for p in losses if p.system == system]
        for number in sorted({p.round for p in mine}):
            run = sorted((p for p in mine if p.round == number), key=lambda p: p.step)
            ax.plot([p.step for p in run], [p.value for p in run], label=f"after round {number}")
        ax.set_title(system)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        ax.grid(alpha=0.3)
        if mine:
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    for ax in list(axes.flat)[len(systems):]:
        ax.axis("off")
    return _save(fig, path)


def plot_language(path: Path, rows: Sequence) -> Path:
    """Vocabulary size, mean utterance length and the reset and "try again" counts per round, one line
    per system (``LanguageRow``)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(15.0, 3.6), dpi=110)
    panels = (("vocabulary", "vocabulary size"), ("mean_length", "tokens per utterance"),
              ("reset_mentions", "reset mentions"), ("try_again_mentions", '"try again" mentions'))
    for ax, (attribute, label) in zip(axes, panels):
        usable = [r for r in rows if getattr(r, attribute) is not None]
        for system in dict.fromkeys(r.system for r in usable):
            mine = sorted((r for r in usable if r.system == system), key=lambda r: r.round)
            ax.plot([r.round for r in mine], [getattr(r, attribute) for r in mine], marker="o", label=system)
        ax.set_xlabel("round")
        ax.set_ylabel(label)
        if usable:
            ax.set_xticks(sorted({r.round for r in usable}))
            ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    return _save(fig, path)


__all__ = ["CONFUSION_VMAX", "plot_metric", "plot_confusions", "plot_losses", "plot_language"]
