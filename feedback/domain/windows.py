"""Feedback windows: what a decoder reads to judge one listener action.

The label of turn k (the listener's action at turn k) is read from the speaker's *next* message
(turn k+1). The window holds the action before it (turn k-1; none on the first turn), the
utterance of turn k, the action of turn k and the utterance of turn k+1. Actions are written in the
listener's own vocabulary (``select A C`` / ``deselect B select E``, letters of the listener's
screen order), exactly as the listener policy writes them. The last turn of a game has no next
utterance and therefore no window.
"""
from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from games.domain.rules import Action, Lettering, format_action

SPEAKER = "Speaker"
LISTENER = "Listener"


@dataclass(frozen=True)
class FeedbackWindow:
    """Text-only view of one turn to label. ``key`` identifies it for the caller (a turn id, a row
    number) and plays no part in decoding."""

    utterance: str
    action: str
    next_utterance: str
    previous_action: str | None = None
    key: Hashable | None = None


@dataclass(frozen=True)
class TurnRecord:
    """The parts of a stored turn a window needs (image ids, not letters)."""

    index: int
    utterance: str
    selected: frozenset[str]
    deselected: frozenset[str]
    key: Hashable | None = None


def action_text(turn: TurnRecord, lettering: Lettering) -> str:
    return format_action(lettering.to_letters(Action(deselect=turn.deselected, select=turn.selected)))


def check_turn_sequence(turns: Sequence[TurnRecord]) -> list[TurnRecord]:
    """Turns sorted by index; ValueError unless they are exactly 0, 1, ..., n-1."""
    ordered = sorted(turns, key=lambda t: t.index)
    if [t.index for t in ordered] != list(range(len(ordered))):
        raise ValueError(f"turn indexes must be 0..{len(ordered) - 1}, got {[t.index for t in ordered]}")
    return ordered


def game_windows(turns: Sequence[TurnRecord], listener_order: Sequence[str]) -> list[FeedbackWindow]:
    """One window per turn that has a follow-up (every turn but the last), keyed by the turn's key."""
    ordered = check_turn_sequence(turns)
    lettering = Lettering(listener_order)
    texts = [action_text(t, lettering) for t in ordered]
    windows = []
    for k in range(len(ordered) - 1):
        windows.append(
            FeedbackWindow(
                previous_action=texts[k - 1] if k > 0 else None,
                utterance=ordered[k].utterance,
                action=texts[k],
                next_utterance=ordered[k + 1].utterance,
                key=ordered[k].key,
            )
        )
    return windows


# Tag-like text (<end_of_utterance>, </s>, <image>) typed by a person must not reach a tokenizer as a
# special token; look-alike brackets keep it readable.
_TAG = re.compile(r"<(/?[^<>\s]{1,40})>")


def clean_text(text: object) -> str:
    """One line of speaker text: whitespace runs (newlines included) become one space, tags defused."""
    flat = " ".join(str(text if text is not None else "").split())
    return _TAG.sub(lambda m: f"\u2039{m.group(1)}\u203a", flat)


def conversation_lines(window: FeedbackWindow) -> list[str]:
    """The window as a short transcript, oldest line first (3 lines on a first turn, else 4)."""
    lines = []
    if window.previous_action:
        lines.append(f"{LISTENER}: {clean_text(window.previous_action)}")
    lines += [
        f"{SPEAKER}: {clean_text(window.utterance)}",
        f"{LISTENER}: {clean_text(window.action)}",
        f"{SPEAKER}: {clean_text(window.next_utterance)}",
    ]
    return lines


def turn_records(game: Mapping) -> list[TurnRecord]:
    """TurnRecords (keyed by turn id) of a game as ``games.selectors.feedback_games`` returns it."""
    return [
        TurnRecord(
            index=t["index"], utterance=t["utterance"], selected=frozenset(t["selected"]),
            deselected=frozenset(t["deselected"]), key=t["id"],
        )
        for t in game["turns"]
    ]


def windows_of_game(game: Mapping) -> list[FeedbackWindow]:
    """The windows of a stored game (see ``game_windows``), keyed by turn id."""
    return game_windows(turn_records(game), game["listener_order"])


__all__ = [
    "SPEAKER", "LISTENER", "FeedbackWindow", "TurnRecord", "action_text", "check_turn_sequence", "game_windows",
    "clean_text", "conversation_lines", "turn_records", "windows_of_game",
]
