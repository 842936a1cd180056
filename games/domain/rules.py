"""Rules of the MultiRef reference game, as pure Python (no Django).

A context holds 10 images; 3-5 of them are targets. Each turn the speaker sends one
message, then the listener toggles images and submits. The selection carries over
between turns. The game is won when the selection equals the target set exactly
(checked at each submit) and lost after 10 turns.

Items are arbitrary string ids: letters A-J in model text, image ids in storage.
A model listener sees the images lettered A-J in the listener's screen order
(`Lettering`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
import re
from typing import overload

CONTEXT_SIZE = 10
MIN_TARGETS = 3
MAX_TARGETS = 5
MAX_TURNS = 10
LETTERS = "ABCDEFGHIJ"

OUTCOME_SUCCESS = "success"
OUTCOME_TURN_LIMIT = "turn_limit"
OUTCOMES = (OUTCOME_SUCCESS, OUTCOME_TURN_LIMIT)

# A recorded listener action's probability is in [0, 1] or one of these (Turn.action_probability).
PROBABILITY_FALLBACK = -1.0  # the fallback action, recorded when no answer came
PROBABILITY_ERROR = -2.0  # the policy failed: the fallback action, recorded as an error
PROBABILITY_NOT_COMPUTED = -3.0  # e.g. grammar-constrained decoding
PROBABILITY_SENTINELS = (PROBABILITY_FALLBACK, PROBABILITY_ERROR, PROBABILITY_NOT_COMPUTED)

SOURCE_OK = "ok"
SOURCE_CLEANED = "cleaned"
SOURCE_FALLBACK = "fallback"

EMPTY_ACTION_TEXT = "nothing"

_LETTER_SET = frozenset(LETTERS)


class RuleError(ValueError):
    """A move or a game description that breaks the rules."""


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Action:
    """One turn's toggles: items to deselect and items to select."""

    deselect: frozenset[str] = frozenset()
    select: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Accept any iterable (sets, lists) but store frozensets so actions stay hashable.
        object.__setattr__(self, "deselect", frozenset(self.deselect))
        object.__setattr__(self, "select", frozenset(self.select))
        both = self.deselect & self.select
        if both:
            raise RuleError(f"items both selected and deselected: {sorted(both)}")

    @property
    def is_empty(self) -> bool:
        return not self.deselect and not self.select

    @property
    def toggled(self) -> frozenset[str]:
        return self.deselect | self.select

    @classmethod
    def from_toggles(cls, clicks: Iterable[str], selected: Collection[str]) -> Action:
        """Net action of a sequence of clicks on `selected`.

        Like the UI, each click toggles, so an item clicked an even number of times
        cancels out.
        """
        odd: set[str] = set()
        for item in clicks:
            odd ^= {item}
        current = frozenset(selected)
        return cls(deselect=frozenset(odd & current), select=frozenset(odd - current))


def format_action(action: Action) -> str:
    """Canonical text: deselect part first, letters sorted; `nothing` when empty."""
    bad = sorted(action.toggled - _LETTER_SET)
    if bad:
        raise RuleError(f"not letters A-J: {bad}")
    if action.is_empty:
        return EMPTY_ACTION_TEXT
    parts: list[str] = []
    if action.deselect:
        parts += ["deselect", *sorted(action.deselect)]
    if action.select:
        parts += ["select", *sorted(action.select)]
    return " ".join(parts)


def _parse_tokens(tokens: Sequence[str], *, lenient: bool) -> tuple[Action | None, str]:
    """Grammar `deselect L+ [select L+] | select L+ | nothing` over tokens.

    Returns (action, "") or (None, reason). `lenient` accepts verbs in any case;
    letters are always upper-case A-J (lower-case "a" is more likely prose).
    """

    def word(tok: str) -> str:
        return tok.lower() if lenient and tok.isascii() else tok

    if not tokens:
        return None, "empty output"
    if len(tokens) == 1 and word(tokens[0]) == EMPTY_ACTION_TEXT:
        return Action(), ""
    parts: dict[str, list[str]] = {}
    verb: str | None = None
    for tok in tokens:
        w = word(tok)
        if w in ("select", "deselect"):
            if verb is not None and not parts[verb]:
                return None, f"no letters after '{verb}'"
            if w in parts:
                return None, f"'{w}' appears twice"
            if w == "deselect" and "select" in parts:
                return None, "'deselect' after 'select'"
            verb = w
            parts[w] = []
        elif verb is None:
            return None, "does not start with 'select' or 'deselect'"
        elif len(tok) == 1 and tok in _LETTER_SET:
            if tok in parts[verb]:
                return None, f"letter {tok} repeated"
            parts[verb].append(tok)
        else:
            return None, f"unexpected token {tok[:20]!r}"
    assert verb is not None
    if not parts[verb]:
        return None, f"no letters after '{verb}'"
    desel = frozenset(parts.get("deselect", ()))
    sel = frozenset(parts.get("select", ()))
    if desel & sel:
        return None, f"letters both selected and deselected: {' '.join(sorted(desel & sel))}"
    return Action(deselect=desel, select=sel), ""


def parse_action(text: str) -> Action | None:
    """Strict parse of the canonical text (exactly what `format_action` writes)."""
    if not isinstance(text, str):
        return None
    action, _ = _parse_tokens(text.split(" "), lenient=False)
    # Canonical means byte-identical to the formatted text (sorted, single spaces).
    if action is None or format_action(action) != text:
        return None
    return action


# ------------------------------------------------------------------ model output


@dataclass(frozen=True)
class ParsedOutput:
    """A model listener's action (letters) and how it was obtained."""

    action: Action
    source: str  # "ok" | "cleaned" | "fallback"
    reason: str


# Generations are a handful of tokens; anything much longer is not an action.
_MAX_ACTION_CHARS = 1000
# A trailing special token such as <end_of_utterance>, </s> or <|eot_id|>.
_END_MARKER = re.compile(r"<[^<>\s]{1,40}>")


def _strip_trailing_markers(text: str) -> str:
    # Walk an end index back instead of slicing: linear even on huge adversarial input.
    end = len(text)
    while end:
        if text[end - 1].isspace() or text[end - 1] == ".":
            end -= 1
            continue
        if text[end - 1] == ">":
            start = text.rfind("<", max(0, end - 42), end)
            if start >= 0 and _END_MARKER.fullmatch(text, start, end):
                end = start
                continue
        break
    return text[:end].strip()


def _lenient_parse(raw: object) -> tuple[Action | None, str]:
    if not isinstance(raw, str):
        return None, f"output is not text ({type(raw).__name__})"
    # The generation follows "Assistant:"; like the original, keep what is after the last colon.
    text = _strip_trailing_markers(raw.rpartition(":")[2])
    if len(text) > _MAX_ACTION_CHARS:
        return None, "output too long"
    return _parse_tokens(text.split(), lenient=True)


def clean_action(action: Action, selected: Collection[str]) -> tuple[Action, bool]:
    """Drop toggles that contradict `selected` (deselecting an unselected item,
    selecting a selected one), as the original deployment did. Returns the cleaned
    action and whether anything was dropped."""
    current = frozenset(selected)
    cleaned = Action(deselect=action.deselect & current, select=action.select - current)
    return cleaned, cleaned != action


def _check_letters(items: Iterable[str], what: str) -> frozenset[str]:
    items = frozenset(items)
    bad = items - _LETTER_SET
    if bad:
        raise RuleError(f"{what} has non-letters: {sorted(map(str, bad))}")
    return items


def parse_model_output(
    raw: str | None, selected: frozenset[str], *, fallback_letter: str = "A"
) -> ParsedOutput:
    """Turn a model listener's raw generation into a consistent, non-empty action.

    Never raises on `raw`. `selected` (current selection, letters) and
    `fallback_letter` are the caller's data, so they are validated (RuleError).
    """
    current = _check_letters(selected, "selection")
    if not isinstance(fallback_letter, str) or fallback_letter not in _LETTER_SET:
        raise RuleError(f"fallback letter must be one of {LETTERS}")

    def fallback(reason: str) -> ParsedOutput:
        # Original behaviour: toggle the listener's first (top-left) image.
        if fallback_letter in current:
            action = Action(deselect=frozenset({fallback_letter}))
        else:
            action = Action(select=frozenset({fallback_letter}))
        return ParsedOutput(action, SOURCE_FALLBACK, reason)

    action, reason = _lenient_parse(raw)
    if action is None:
        return fallback(f"invalid: {reason}")
    if action.is_empty:
        return fallback("empty action")
    cleaned, dropped = clean_action(action, current)
    if cleaned.is_empty:
        return fallback("nothing left after cleaning")
    if not dropped:
        return ParsedOutput(cleaned, SOURCE_OK, "")
    notes = []
    if action.deselect - cleaned.deselect:
        notes.append("dropped deselect of unselected " + " ".join(sorted(action.deselect - cleaned.deselect)))
    if action.select - cleaned.select:
        notes.append("dropped select of selected " + " ".join(sorted(action.select - cleaned.select)))
    return ParsedOutput(cleaned, SOURCE_CLEANED, "; ".join(notes))


# --------------------------------------------------------------------- lettering


class Lettering:
    """Letters A-J for the listener's screen order (position 0 = top-left = A)."""

    def __init__(self, listener_order: Sequence[str]) -> None:
        order = tuple(listener_order)
        if len(order) != CONTEXT_SIZE or len(set(order)) != CONTEXT_SIZE:
            raise RuleError(f"listener order must hold {CONTEXT_SIZE} distinct images")
        self.order = order
        self._letter = {image: LETTERS[i] for i, image in enumerate(order)}
        self._image = {LETTERS[i]: image for i, image in enumerate(order)}

    def letter_of(self, image_id: str) -> str:
        try:
            return self._letter[image_id]
        except (KeyError, TypeError):
            raise RuleError(f"image not in context: {image_id!r}") from None

    def image_of(self, letter: str) -> str:
        try:
            return self._image[letter]
        except (KeyError, TypeError):
            raise RuleError(f"not a letter A-J: {letter!r}") from None

    @overload
    def to_letters(self, items: Action) -> Action: ...
    @overload
    def to_letters(self, items: Iterable[str]) -> frozenset[str]: ...
    def to_letters(self, items: Action | Iterable[str]) -> Action | frozenset[str]:
        """Image ids -> letters, for an action or a set of images."""
        if isinstance(items, Action):
            return Action(self.to_letters(items.deselect), self.to_letters(items.select))
        return frozenset(self.letter_of(i) for i in items)

    @overload
    def to_images(self, items: Action) -> Action: ...
    @overload
    def to_images(self, items: Iterable[str]) -> frozenset[str]: ...
    def to_images(self, items: Action | Iterable[str]) -> Action | frozenset[str]:
        """Letters -> image ids, for an action or a set of letters."""
        if isinstance(items, Action):
            return Action(self.to_images(items.deselect), self.to_images(items.select))
        return frozenset(self.image_of(letter) for letter in items)


# ------------------------------------------------------------------ selection math


def apply_action(selection: Collection[str], action: Action) -> frozenset[str]:
    """Toggle semantics. Inconsistent toggles are an error: callers clean first."""
    current = frozenset(selection)
    missing = action.deselect - current
    if missing:
        raise RuleError(f"deselecting unselected items: {sorted(missing)}")
    again = action.select & current
    if again:
        raise RuleError(f"selecting already selected items: {sorted(again)}")
    return (current - action.deselect) | action.select


def action_between(before: Collection[str], after: Collection[str]) -> Action:
    """The action that turns selection `before` into `after`."""
    b, a = frozenset(before), frozenset(after)
    return Action(deselect=b - a, select=a - b)


def is_success(selection: Collection[str], targets: Collection[str]) -> bool:
    return frozenset(selection) == frozenset(targets)


# ------------------------------------------------------------------ turn labels


def is_good_select(action: Action, targets: Collection[str]) -> bool:
    """Selected something, and every new selection is a target."""
    return bool(action.select) and action.select <= frozenset(targets)


def is_good_deselect(action: Action, targets: Collection[str]) -> bool:
    """Deselected something, and every deselection is a non-target."""
    return bool(action.deselect) and action.deselect.isdisjoint(targets)


class ActionQuality(IntEnum):
    BAD = -1
    MIXED = 0
    GOOD = 1


def action_quality(action: Action, targets: Collection[str]) -> ActionQuality:
    """Ternary label of the original study's heuristic ground truth.

    GOOD: every non-empty part is good (pure good select, pure good deselect, or both
    good). MIXED: one part good, the other present but not good. BAD: no good part
    (including the empty action).
    """
    good_sel = is_good_select(action, targets)
    good_desel = is_good_deselect(action, targets)
    if not (good_sel or good_desel):
        return ActionQuality.BAD
    if (good_sel or not action.select) and (good_desel or not action.deselect):
        return ActionQuality.GOOD
    return ActionQuality.MIXED


def click_outcomes(action: Action, targets: Collection[str]) -> list[bool]:
    """One bool per toggled item (deselections first, each part sorted): a selection
    is correct on a target, a deselection on a non-target."""
    tset = frozenset(targets)
    return [i not in tset for i in sorted(action.deselect)] + [i in tset for i in sorted(action.select)]


def click_accuracy(pairs: Iterable[tuple[Action, Collection[str]]]) -> float | None:
    """Micro average of click correctness over all clicks; None when no clicks."""
    right = total = 0
    for action, targets in pairs:
        outcomes = click_outcomes(action, targets)
        right += sum(outcomes)
        total += len(outcomes)
    return right / total if total else None


# --------------------------------------------------------------------- game state


@dataclass(frozen=True)
class PastTurn:
    """One decided turn as the listener lived it: the selection it started from, the speaker's
    message and the listener's toggles. The history a policy sees is a tuple of these."""

    selection_before: frozenset[str]
    utterance: str
    select: frozenset[str]
    deselect: frozenset[str]

    @property
    def action(self) -> Action:
        return Action(deselect=self.deselect, select=self.select)

    @property
    def selection_after(self) -> frozenset[str]:
        return apply_action(self.selection_before, self.action)


@dataclass(frozen=True)
class TurnResult:
    turn: int  # 1-based number of the turn just played
    selection_before: frozenset[str]
    action: Action
    selection_after: frozenset[str]
    ended: bool
    outcome: str | None
    correct: frozenset[str]  # selected targets (green for the speaker)
    wrong: frozenset[str]  # selected non-targets (red for the speaker)


@dataclass
class GameState:
    """Pure game progression: the one definition of how a game moves on, stepped by every driver
    (the live engine, the in-memory and training-time simulators, the websocket client). Can be
    rebuilt from stored fields (validated) or replayed from recorded turns (``replay``)."""

    targets: frozenset[str]
    context: frozenset[str]
    selection: frozenset[str] = frozenset()
    turn: int = 0  # completed turns
    outcome: str | None = None
    # The turns played through ``submit`` (or replayed); a state restored from its fields alone
    # has none and still compares equal.
    history: tuple[PastTurn, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        targets, context = list(self.targets), list(self.context)
        if len(set(context)) != len(context) or len(context) != CONTEXT_SIZE:
            raise RuleError(f"context must hold {CONTEXT_SIZE} distinct images")
        if len(set(targets)) != len(targets) or not MIN_TARGETS <= len(targets) <= MAX_TARGETS:
            raise RuleError(f"need {MIN_TARGETS}-{MAX_TARGETS} distinct targets")
        self.targets, self.context = frozenset(targets), frozenset(context)
        self.selection = frozenset(self.selection)
        self.history = tuple(self.history)
        if not self.targets <= self.context:
            raise RuleError("targets must be in the context")
        if not self.selection <= self.context:
            raise RuleError("selection must be in the context")
        # Restored states must be reachable by play.
        if isinstance(self.turn, bool) or not isinstance(self.turn, int) or not 0 <= self.turn <= MAX_TURNS:
            raise RuleError(f"turn must be 0..{MAX_TURNS}")
        if self.history and (len(self.history) != self.turn or self.history[-1].selection_after != self.selection):
            raise RuleError("history does not lead to the turn and selection")
        won = self.selection == self.targets
        if self.outcome is None:
            ok = self.turn < MAX_TURNS and not won
        elif self.outcome == OUTCOME_SUCCESS:
            ok = won and self.turn >= 1
        elif self.outcome == OUTCOME_TURN_LIMIT:
            ok = self.turn == MAX_TURNS and not won
        else:
            raise RuleError(f"unknown outcome {self.outcome!r}")
        if not ok:
            raise RuleError(f"outcome {self.outcome!r} does not fit turn {self.turn} and the selection")

    @classmethod
    def replay(
        cls, targets: Collection[str], context: Collection[str], turns: Iterable[tuple[str, Action]]
    ) -> GameState:
        """The state after playing ``turns`` (utterance, action) from the start: the one builder of
        a game's history from its recorded turns. RuleError if they do not make a legal game."""
        state = cls(targets=frozenset(targets), context=frozenset(context))
        for utterance, action in turns:
            state.submit(action, utterance)
        return state

    @property
    def is_over(self) -> bool:
        return self.outcome is not None

    @property
    def turns_left(self) -> int:
        return 0 if self.is_over else MAX_TURNS - self.turn

    def submit(self, action: Action, utterance: str = "") -> TurnResult:
        """Apply one listener submission (an already cleaned action; empty allowed) to the speaker's
        ``utterance`` of this turn; the turn joins ``history``."""
        if self.is_over:
            raise RuleError(f"game is over ({self.outcome})")
        outside = action.toggled - self.context
        if outside:
            raise RuleError(f"items outside the context: {sorted(outside)}")
        before = self.selection
        after = apply_action(before, action)
        self.history = (*self.history, PastTurn(before, utterance, action.select, action.deselect))
        self.selection = after
        self.turn += 1
        if after == self.targets:
            self.outcome = OUTCOME_SUCCESS
        elif self.turn >= MAX_TURNS:
            self.outcome = OUTCOME_TURN_LIMIT
        return TurnResult(
            turn=self.turn,
            selection_before=before,
            action=action,
            selection_after=after,
            ended=self.is_over,
            outcome=self.outcome,
            correct=after & self.targets,
            wrong=after - self.targets,
        )


__all__ = [
    "CONTEXT_SIZE", "MIN_TARGETS", "MAX_TARGETS", "MAX_TURNS", "LETTERS",
    "OUTCOME_SUCCESS", "OUTCOME_TURN_LIMIT", "SOURCE_OK", "SOURCE_CLEANED", "SOURCE_FALLBACK",
    "RuleError", "Action", "format_action", "parse_action", "ParsedOutput", "parse_model_output",
    "clean_action", "Lettering", "apply_action", "action_between", "is_success",
    "is_good_select", "is_good_deselect", "ActionQuality", "action_quality",
    "click_outcomes", "click_accuracy", "PastTurn", "TurnResult", "GameState",
]
