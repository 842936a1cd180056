"""What a bulk service did, in a form a command or a page can print."""
from collections import Counter
from dataclasses import dataclass, field


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
