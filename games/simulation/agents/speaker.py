"""The simulated speaker (pure; no Django; no global state: every speaker owns its RNG).

It describes one target at a time (sometimes two), in words grounded in each figure's shape
(``describe``), or with a human description of the figure when one is given. After each submit it
sees the listener's selection framed green (targets) and red (others) and reacts as people did in
the original study: approval and moving on, moving on silently, "no, not that one", undo
requests, rephrasing, "try again", partial approval, and a reset when frustrated. Each move says
what it meant: the true quality of the listener's last action and the polarity it intended.
"""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Protocol

from games.domain import rules
from games.domain.game_configs import ContextSpec
from games.domain.seeds import derive_seed
from games.domain.tangrams import TangramFigure
from games.simulation.agents import phrases
from games.simulation.agents.describe import describe, figure_attributes, with_article
from games.simulation.agents.populations import DEFAULT_POPULATION, population, speak_idiolect
from games.simulation.agents.shape_features import shape_features

POSITIVE, NEUTRAL, NEGATIVE, NONE = "positive", "neutral", "negative", "none"

# Moves (SpeakerIntent.move).
FIRST = "describe"
APPROVE_NEXT = "approve_next"
SILENT_NEXT = "silent_next"
APPROVE_FIX = "approve_fix"  # approval, then "now unselect the ..."
SILENT_FIX = "silent_fix"
CORRECT = "correct"
UNDO = "undo"
REPHRASE = "rephrase"
TRY_AGAIN = "try_again"
PARTIAL = "partial"
KEEP = "keep"  # the listener removed a target: "no, keep the ..."
RESET = "reset"
MOVES = (FIRST, APPROVE_NEXT, SILENT_NEXT, APPROVE_FIX, SILENT_FIX, CORRECT, UNDO, REPHRASE, TRY_AGAIN, PARTIAL,
         KEEP, RESET)


class StyleError(ValueError):
    """A speaker style that cannot be used; the message says which setting and why."""


@dataclass(frozen=True)
class SpeakerStyle:
    """How the speaker talks. Rates are probabilities (0..1); weights are relative."""

    approve_rate: float = 0.55  # after a good action: say so before moving on (else move on silently)
    misleading_no_rate: float = 0.04  # approvals phrased with a "no" ("no problem, now the boat")
    misleading_yes_rate: float = 0.04  # negatives opened with a positive word ("ok but not that one")
    correct_weight: float = 0.45  # after a bad action: "no, not that one" + the target again
    undo_weight: float = 0.2  # "undo that"
    rephrase_weight: float = 0.2  # "I meant the ..." with more detail
    try_again_weight: float = 0.15  # "try again"
    partial_rate: float = 0.8  # after a partly right action: partial approval (else treated as bad)
    fix_first_rate: float = 0.5  # good action but red images left: ask to remove one before moving on
    reset_rate: float = 0.5  # when frustrated: "clear all, start over"
    frustration_wrong: int = 3  # this many red images make the speaker frustrated
    frustration_streak: int = 2  # ... or this many bad actions in a row with two or more red
    multi_target_rate: float = 0.1  # describe two targets in one message
    extra_attribute_rate: float = 0.25  # one attribute more than needed
    typo_rate: float = 0.08  # one typo in the message
    casual_rate: float = 0.6  # lower case, no final stop
    misjudge_rate: float = 0.02  # misreads the frames (good taken for bad or the reverse)
    human_description_rate: float = 1.0  # use a human description when the figure has one
    frame_variety: float = 1.0  # 0: always the plainest frame; 1: any frame
    population: str = DEFAULT_POPULATION  # whose words: the speaker's idiolect is drawn from it (populations.py)

    _INTS = ("frustration_wrong", "frustration_streak")
    _WEIGHTS = ("correct_weight", "undo_weight", "rephrase_weight", "try_again_weight")

    def __post_init__(self) -> None:
        try:
            population(self.population)
        except ValueError as exc:
            raise StyleError(str(exc)) from None
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "population":
                continue
            if f.name in self._INTS:
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise StyleError(f"{f.name} must be a whole number >= 1, got {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise StyleError(f"{f.name} must be a number, got {value!r}")
            if f.name in self._WEIGHTS:
                if not 0 <= value < float("inf"):
                    raise StyleError(f"{f.name} must be a weight >= 0, got {value!r}")
            elif not 0.0 <= value <= 1.0:
                raise StyleError(f"{f.name} must be a probability in [0, 1], got {value!r}")
        if sum(getattr(self, w) for w in self._WEIGHTS) <= 0:
            raise StyleError("at least one of " + ", ".join(self._WEIGHTS) + " must be positive")

    @classmethod
    def from_dict(cls, data: Mapping | None) -> SpeakerStyle:
        """A style from (partial) settings; unknown keys and bad values are errors."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise StyleError("a speaker style must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise StyleError(f"unknown speaker style setting(s): {', '.join(map(str, unknown))}")
        return cls(**dict(data))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SpeakerContext:
    """What the speaker knows: the images in its screen order, the targets, each image's figure,
    and optionally human descriptions per image (KILOGRAM-style whole-shape annotations)."""

    images: tuple[str, ...]
    targets: frozenset[str]
    figures: Mapping[str, TangramFigure]
    descriptions: Mapping[str, Sequence[str]] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", tuple(self.images))
        object.__setattr__(self, "targets", frozenset(self.targets))
        if len(set(self.images)) != len(self.images) or len(self.images) < 2:
            raise rules.RuleError("the speaker needs two or more distinct images")
        if not self.targets or not self.targets <= set(self.images):
            raise rules.RuleError("targets must be images of the context")
        missing = [i for i in self.images if i not in self.figures]
        if missing:
            raise rules.RuleError(f"no figure for image {missing[0]!r}")

    @classmethod
    def of(cls, spec: ContextSpec, figures: Mapping[str, TangramFigure],
           descriptions: Mapping[str, Sequence[str]] | None = None) -> SpeakerContext:
        """The speaker's view of a game context: its screen order and the targets."""
        return cls(spec.speaker_order, spec.targets, figures, descriptions)


@dataclass(frozen=True)
class SpeakerMove:
    text: str
    feedback: str  # intended polarity towards the listener's previous action (NONE on the first turn)
    previous_action_quality: str  # rules.ActionQuality name of that action ("" on the first turn)
    move: str  # one of MOVES
    target: str  # the target it is describing now ("" when none, e.g. only asking to remove)
    details: dict = field(default_factory=dict)


class Speaker(Protocol):
    """What the drivers (through ``Episode``) need of a simulated speaker: ``first_move`` once, then
    ``react`` to every submitted selection until the game ends. Other kinds of speaker (a population's
    members) only have to provide these."""

    def first_move(self) -> SpeakerMove: ...

    def react(self, selection_before: frozenset[str], selection_after: frozenset[str]) -> SpeakerMove: ...


def build_speaker(context: SpeakerContext, style: SpeakerStyle | None = None, *, seed: int) -> Speaker:
    """The one place a game's simulated speaker is made, from its style and its own seed: every driver
    gets its speaker here (through ``Episode.start``). A speaker of a population other than the plain
    one says the vocabulary its own way (its idiolect, drawn from the population under its seed)."""
    style = style or SpeakerStyle()
    kind = population(style.population)
    if kind.talk == "people":
        from games.simulation.agents.people import PeopleSpeaker  # people.py builds on this module

        return PeopleSpeaker(context, style, seed=seed)
    idiolect = kind.idiolect(derive_seed(seed, "idiolect"))
    return SimulatedSpeaker(context, style, seed=seed, idiolect=idiolect)


class SimulatedSpeaker:
    """One speaker for one game. ``first_move`` once, then ``react`` after every submit."""

    def __init__(self, context: SpeakerContext, style: SpeakerStyle | None = None, seed: int = 0,
                 idiolect: Mapping[str, str] | None = None):
        self.context = context
        self.style = style or SpeakerStyle()
        self.rng = random.Random(seed)
        self.idiolect = dict(idiolect or {})  # plain phrase -> this speaker's words for it
        self.lines = phrases  # the tables of what it says around descriptions (``phrases``; a population may differ)
        self.attrs = {image: figure_attributes(shape_features(context.figures[image])) for image in context.images}
        self.order = {image: i for i, image in enumerate(context.images)}
        self.focus: str | None = None
        self.turns = 0
        self.bad_streak = 0
        self.rephrasings: dict[str, int] = {}
        self._human: dict[str, list[str]] = {}
        for image in context.images:
            texts = [t.strip() for t in (context.descriptions or {}).get(image, ()) if t and t.strip()]
            if texts:
                # A fixed shuffled order per game: the first is this speaker's name for the figure,
                # later ones are its rephrasings.
                self.rng.shuffle(texts)
                self._human[image] = texts
        self._use_human = {image: self.rng.random() < self.style.human_description_rate for image in self._human}

    # --- describing ---------------------------------------------------------------------------------

    def _phrase(self, image: str, *, more: int = 0) -> tuple[str, str, str, dict]:
        """(the-phrase, a-phrase, name, details) for an image; ``more`` asks for extra detail."""
        if self._use_human.get(image):
            texts = self._human[image]
            text = texts[more % len(texts)]
            text = text.lower().rstrip(".")
            for article in ("the ", "a ", "an "):
                if text.startswith(article):
                    text = text[len(article):]
            name = text.split()[-1] if text.split() else text
            return with_article(text), with_article(text, definite=False), name, {"human": True, "phrase": text}
        others = [self.attrs[i] for i in self.context.images if i != image]
        extra = more + (1 if self.rng.random() < self.style.extra_attribute_rate else 0)
        d = describe(self.attrs[image], others, extra=extra, rng=self.rng)
        return (with_article(d.phrase), with_article(d.phrase, definite=False), self.attrs[image]["name"],
                {"human": False, "phrase": d.phrase, "attributes": list(d.keys), "core": list(d.core)})

    def _frame(self, templates: Sequence[str]) -> str:
        if self.rng.random() >= self.style.frame_variety:
            return templates[0]
        return self.rng.choice(templates)

    def _described(self, templates: Sequence[str], images: Sequence[str], *, more: int = 0) -> tuple[str, dict]:
        """A frame filled with the description of one image, or of two joined by "and"."""
        the, a, name, info = self._phrase(images[0], more=more)
        infos = [info]
        if len(images) > 1:
            the2, a2, _, info2 = self._phrase(images[1])
            the, a = f"{the} and {the2}", f"{a} and {a2}"
            infos.append(info2)
        return phrases.fill(self._frame(templates), the, a, name), {"descriptions": infos}

    def _finish(self, text: str, *, feedback: str, quality: str, move: str, target: str | None,
                details: dict) -> SpeakerMove:
        text = speak_idiolect(text, self.idiolect)
        text = phrases.casual(text, self.rng, self.style.casual_rate)
        if self.rng.random() < self.style.typo_rate:
            typo = phrases.add_typo(text, self.rng)
            details["typo"] = typo != text
            text = typo
        self.turns += 1
        return SpeakerMove(text=text[:300], feedback=feedback, previous_action_quality=quality, move=move,
                           target=target or "", details=details)

    def _targets_to_describe(self, missing: Sequence[str]) -> list[str]:
        if len(missing) >= 2 and self.rng.random() < self.style.multi_target_rate:
            return list(missing[:2])
        return list(missing[:1])

    # --- moves ----------------------------------------------------------------------------------------

    def first_move(self) -> SpeakerMove:
        if self.turns:
            raise rules.RuleError("first_move is for the first turn only")
        missing = self._in_order(self.context.targets)
        self.focus = missing[0]
        described = self._targets_to_describe(missing)
        text, details = self._described(self.lines.FIRST, described)
        details["described"] = described
        return self._finish(text, feedback=NONE, quality="", move=FIRST, target=self.focus, details=details)

    def react(self, selection_before: frozenset[str], selection_after: frozenset[str]) -> SpeakerMove:
        """The next message after seeing the submitted selection (green = targets, red = others)."""
        before, after = frozenset(selection_before), frozenset(selection_after)
        targets = self.context.targets
        if not self.turns:
            raise rules.RuleError("call first_move before react")
        if after == targets:
            raise rules.RuleError("the game is won: there is nothing to say")
        if self.turns >= rules.MAX_TURNS:
            raise rules.RuleError("the turn limit is reached")
        if not after <= set(self.context.images):
            raise rules.RuleError("the selection holds images outside the context")
        action = rules.action_between(before, after)
        quality = rules.action_quality(action, targets)
        perceived = quality
        if self.rng.random() < self.style.misjudge_rate and quality != rules.ActionQuality.MIXED:
            perceived = rules.ActionQuality.BAD if quality == rules.ActionQuality.GOOD else rules.ActionQuality.GOOD
        wrong = self._in_order(after - targets)
        missing = self._in_order(targets - after)
        if self.focus not in missing:
            self.focus = missing[0] if missing else None
        details: dict = {"perceived_quality": perceived.name, "red": wrong, "green": self._in_order(after & targets)}
        qname = quality.name

        # Some right and some wrong in what it just did: people say so ("one of those is right").
        partly = perceived == rules.ActionQuality.MIXED or (
            perceived == rules.ActionQuality.BAD and action.select & targets and action.select - targets)
        if partly and self.rng.random() < self.style.partial_rate:
            self.bad_streak = 0
            return self._partial(action, qname, details)
        if perceived == rules.ActionQuality.GOOD:
            self.bad_streak = 0
            return self._good(wrong, missing, qname, details)
        self.bad_streak += 1
        return self._bad(action, wrong, missing, qname, details)

    def _in_order(self, images) -> list[str]:
        return sorted(images, key=self.order.__getitem__)

    def _good(self, wrong, missing, quality, details) -> SpeakerMove:
        approve = self.rng.random() < self.style.approve_rate
        misleading = approve and self.rng.random() < self.style.misleading_no_rate
        prefix = ""
        if approve:
            prefix = self.rng.choice(self.lines.APPROVE_WITH_NO if misleading else self.lines.APPROVE)
            prefix += self.rng.choice(self.lines.JOIN)
        details["misleading"] = misleading
        if wrong and (not missing or self.rng.random() < self.style.fix_first_rate):
            body, info = self._described(self.lines.FIX, wrong[:1])
            details.update(info, remove=wrong[:1])
            move = APPROVE_FIX if approve else SILENT_FIX
            return self._finish(prefix + body, feedback=POSITIVE, quality=quality, move=move, target=None,
                                details=details)
        described = self._targets_to_describe(missing)
        body, info = self._described(self.lines.NEXT, described)
        details.update(info, described=described)
        move = APPROVE_NEXT if approve else SILENT_NEXT
        return self._finish(prefix + body, feedback=POSITIVE, quality=quality, move=move, target=self.focus,
                            details=details)

    def _partial(self, action, quality, details) -> SpeakerMove:
        targets = self.context.targets
        opener = self.rng.choice(self.lines.PARTIAL) + self.rng.choice((", ", ". ", " "))
        wrong_new = self._in_order(action.select - targets)
        lost = self._in_order(action.deselect & targets)
        if wrong_new:
            body, info = self._described(self.lines.PARTIAL_TAIL, wrong_new[:1])
            details.update(info, remove=wrong_new[:1])
        else:
            body, info = self._described(self.lines.PARTIAL_KEEP_TAIL, lost[:1])
            details.update(info, keep=lost[:1])
        details["misleading"] = False
        return self._finish(opener + body, feedback=NEUTRAL, quality=quality, move=PARTIAL, target=None,
                            details=details)

    def _bad(self, action, wrong, missing, quality, details) -> SpeakerMove:
        style, targets = self.style, self.context.targets
        frustrated = len(wrong) >= style.frustration_wrong or (
            self.bad_streak >= style.frustration_streak and len(wrong) >= 2)
        details["frustrated"] = frustrated
        details["misleading"] = False
        if frustrated and self.rng.random() < style.reset_rate:
            self.bad_streak = 0
            self.focus = self._in_order(targets)[0]
            text = self.rng.choice(self.lines.RESET)
            if self.rng.random() < 0.6:
                body, info = self._described(self.lines.NEXT, [self.focus])
                text += self.rng.choice(self.lines.JOIN) + body
                details.update(info, described=[self.focus])
            return self._finish(text, feedback=NEGATIVE, quality=quality, move=RESET, target=self.focus,
                                details=details)
        lost = self._in_order(action.deselect & targets)
        if lost:
            body, info = self._described(self.lines.KEEP, lost[:1])
            details.update(info, keep=lost[:1])
            return self._finish(body, feedback=NEGATIVE, quality=quality, move=KEEP, target=lost[0],
                                details=details)
        kinds = [CORRECT, UNDO, REPHRASE, TRY_AGAIN]
        weights = [style.correct_weight, style.undo_weight, style.rephrase_weight, style.try_again_weight]
        if not action.select:
            weights[1] = weights[3] = 0.0  # nothing to undo or retry: say what is needed instead
            if not weights[0] + weights[2]:
                weights[0] = 1.0
        kind = self.rng.choices(kinds, weights=weights)[0]
        focus = self.focus
        if focus is None:
            # Every target is green yet the action was bad (a red added): ask to remove it.
            body, info = self._described(self.lines.REMOVE, self._in_order(action.select - targets)[:1] or wrong[:1])
            details.update(info, remove=wrong[:1])
            return self._finish(self._negative_opener(details) + body, feedback=NEGATIVE, quality=quality,
                                move=UNDO, target=None, details=details)
        if kind == UNDO:
            return self._finish(self.rng.choice(self.lines.UNDO), feedback=NEGATIVE, quality=quality, move=UNDO,
                                target=focus, details=details)
        if kind == TRY_AGAIN:
            return self._finish(self.rng.choice(self.lines.TRY_AGAIN), feedback=NEGATIVE, quality=quality,
                                move=TRY_AGAIN, target=focus, details=details)
        self.rephrasings[focus] = self.rephrasings.get(focus, 0) + 1
        more = self.rephrasings[focus]
        if kind == REPHRASE:
            body, info = self._described(self.lines.REPHRASE, [focus], more=more)
            details.update(info, described=[focus])
            return self._finish(body, feedback=NEGATIVE, quality=quality, move=REPHRASE, target=focus,
                                details=details)
        body, info = self._described(self.lines.CORRECT_TAIL, [focus], more=more - 1)
        details.update(info, described=[focus])
        return self._finish(self._negative_opener(details) + body, feedback=NEGATIVE, quality=quality,
                            move=CORRECT, target=focus, details=details)

    def _negative_opener(self, details: dict) -> str:
        misleading = self.rng.random() < self.style.misleading_yes_rate
        details["misleading"] = misleading
        opener = self.rng.choice(self.lines.NEGATIVE_WITH_YES if misleading else self.lines.NEGATIVE)
        return opener + self.rng.choice((", ", ". ", "! "))
