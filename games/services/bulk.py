"""Shared pieces of the bulk services (generate / import): input files, progress, the report."""
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

# A progress callback wraps an iterable (e.g. in a tqdm bar); services never print themselves.
Progress = Callable[[Iterable, int], Iterable]


def no_progress(items: Iterable, total: int) -> Iterable:
    return items


def list_input_files(path: Path) -> list[Path]:
    """The files to import: the path itself, or the files directly inside the folder (sorted)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file())
    raise FileNotFoundError(f"{path} is neither a file nor a folder")


@dataclass
class BulkReport:
    """Outcome of a bulk create/import: what was created, found unchanged, or skipped and why."""

    noun: str
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file or name, reason)
    by_split: Counter = field(default_factory=Counter)

    def skip(self, item: str, reason: str) -> None:
        self.skipped.append((item, reason))

    def summary(self) -> str:
        splits = ", ".join(f"{k} {v}" for k, v in sorted(self.by_split.items()))
        line = f"{len(self.created)} {self.noun} created"
        if splits:
            line += f" ({splits})"
        line += f", {len(self.unchanged)} already present, {len(self.skipped)} skipped"
        return line
