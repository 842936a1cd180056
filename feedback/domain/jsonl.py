"""Feedback windows from JSONL rows (turns from other studies, e.g. the original's published ones).

A row is a JSON object with string fields ``utterance``, ``action`` and ``next_utterance``, and an
optional ``previous_action`` (string, or null / absent on a first turn). Any other field is kept
as it is. Actions are free text here (written as the original wrote them, ``select A C``).
"""
from __future__ import annotations

import json
from collections.abc import Iterable

from feedback.domain.windows import FeedbackWindow

REQUIRED = ("utterance", "action", "next_utterance")
OPTIONAL = ("previous_action",)
MAX_FIELD_CHARS = 10_000


class RowError(ValueError):
    """A line that is not a usable row (the message starts with its line number)."""


def parse_rows(lines: Iterable[str]) -> list[tuple[int, dict]]:
    """(line number, row) for every non-blank line; RowError on the first bad one."""
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise RowError(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise RowError(f"line {number}: not a JSON object")
        for name in REQUIRED:
            if name not in row:
                raise RowError(f"line {number}: missing {name!r}")
            if not isinstance(row[name], str):
                raise RowError(f"line {number}: {name!r} must be a string")
        previous = row.get("previous_action")
        if previous is not None and not isinstance(previous, str):
            raise RowError(f"line {number}: 'previous_action' must be a string or null")
        for name in (*REQUIRED, *OPTIONAL):
            if isinstance(row.get(name), str) and len(row[name]) > MAX_FIELD_CHARS:
                raise RowError(f"line {number}: {name!r} is longer than {MAX_FIELD_CHARS} characters")
        rows.append((number, row))
    return rows


def row_window(number: int, row: dict) -> FeedbackWindow:
    return FeedbackWindow(
        previous_action=row.get("previous_action") or None, utterance=row["utterance"], action=row["action"],
        next_utterance=row["next_utterance"], key=number,
    )


__all__ = ["REQUIRED", "OPTIONAL", "RowError", "parse_rows", "row_window"]
