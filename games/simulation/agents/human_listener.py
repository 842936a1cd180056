"""The simulated human listener (pure; owns its RNG).

It reads the speaker's message as a person would, from the text alone: it looks at its own images
(it sees them: their shape attributes, or the words people use for them when it is given human
descriptions), finds the phrases that describe images, notices negative feedback ("no, not that
one", "undo that", "try again", "clear all"), requests to remove or keep a described image, and
turns all that into toggles. With probability ``1 - accuracy`` it picks the wrong image for a
description (usually one that fits nearly as well), as people sometimes do.

People's words (the ``people`` population) are read too: the facts an utterance states about pieces,
directions, letters and things (``geometry.read_facts``) are checked against what is true of each image,
picks named by their order ("remove the second one you picked") are found in its own history, and
people's undo forms ("uncheck that one") are understood. None of these fire on the other populations.
"""
from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from games.domain import rules
from games.domain.tangrams import TangramFigure
from games.simulation.agents.describe import Mention, figure_attributes, match_score, normalise, parse_mentions
from games.simulation.agents.geometry import fact_score, figure_facts, read_facts
from games.simulation.agents.shape_features import shape_features


class HeardTurn(Protocol):
    """One past turn as the listener remembers it: what was said and what it did (image ids).
    ``rules.PastTurn`` (a ``GameState``'s history) is one; so is ``ListenerTurn``."""

    @property
    def utterance(self) -> str: ...

    @property
    def action(self) -> rules.Action: ...


@dataclass(frozen=True)
class ListenerTurn:
    """A remembered turn without its selection (for callers that have no ``GameState``)."""

    utterance: str
    action: rules.Action


_RESET_RE = re.compile(
    r"\b(reset|restart|from scratch|all over|start over|(?:deselect|remove|clear|unselect|drop) (?:everything|all))\b"
)
_UNDO_RE = re.compile(
    r"\b(undo|deselect the last one|what you just|unselect that|take that one back|deselect it|your last click)\b"
)
_NOT_NEGATIVE_RE = re.compile(
    r"\b(no problem|no worries|not bad|no mistakes|nothing wrong|not (?:the|that) other(?: one| \w+)?)\b"
)
_NEGATIVE_RE = re.compile(
    r"\b(no|nope|not that|not it|wrong|not quite|meant|the other|try again|one more time|another one|look again|"
    r"incorrect|nah|not this|not right|oops|isn't it|isnt it)\b"
)
# People's undo requests: an undo verb and the last pick ("uncheck that one", "get rid of your last pick").
_UNDO_PICK_RE = re.compile(
    r"\b(?:undo|deselect|unselect|remove|uncheck|unclick|take off|get rid of|drop) (?:that|this|that one|this one|"
    r"the last one|your last \w+|the one you just \w+|what you just \w+)\b"
)
# "the second one you picked", "the one you just selected", "the last one you picked".
_PICK_REF_RE = re.compile(
    r"\bthe (?:(first|second|third|fourth|fifth|sixth|last) one|one) you (just )?(?:picked|selected|chose|clicked)\b"
)
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")
_RETRY_RE = re.compile(r"\b(try again|one more time|the other one|another one)\b")
_REMOVE_RE = re.compile(r"\b(unselect|deselect|remove|take off|uncheck|unclick|get rid of|take it off)\b")
_KEEP_RE = re.compile(r"\b(keep|don't remove|dont remove|put it back|select .{0,80} again|leave)\b")
_WRONG_RE = re.compile(r"\b(?:is|was) (?:wrong|not right|incorrect)\b")
_WRONG_AFTER_RE = re.compile(r"^\s*(?:is|was) (?:wrong|not right|incorrect)\b")
_STOPWORDS = frozenset(
    "a an the one that this it its is was of with and or to on in at now next then also first find select "
    "click pick looks like look ok yes no not good great nice but i meant need try again start over".split()
)


class SimulatedHumanListener:
    """Follows descriptions and corrections; ``act`` returns the toggles of one submit."""

    def __init__(
        self,
        listener_order: Sequence[str],
        figures: Mapping[str, TangramFigure],
        accuracy: float = 0.85,
        seed: int = 0,
        descriptions: Mapping[str, Sequence[str]] | None = None,
    ):
        if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 0.0 <= accuracy <= 1.0:
            raise ValueError(f"accuracy must be in [0, 1], got {accuracy!r}")
        self.order = tuple(listener_order)
        missing = [i for i in self.order if i not in figures]
        if missing:
            raise ValueError(f"no figure for image {missing[0]!r}")
        self.accuracy = float(accuracy)
        self.rng = random.Random(seed)
        self.attrs = {i: figure_attributes(shape_features(figures[i])) for i in self.order}
        # What is true of each image's pieces and silhouette (``geometry``): people describe by it.
        self.facts = {i: figure_facts(figures[i]) for i in self.order}
        self.lexicon: dict[str, frozenset[str]] = {}
        for image, texts in (descriptions or {}).items():
            if image in self.attrs:
                self.lexicon[image] = frozenset(w for t in texts for w in _content_words(normalise(t)))

    # --- reading --------------------------------------------------------------------------------------

    def _segments(self, text: str) -> list[tuple[str, Mention | None, str]]:
        """(intent, mention, phrase words) per described image; intent is select, remove or keep."""
        mentions = parse_mentions(text)
        segments = []
        if not mentions and read_facts(text):
            # People's words only (geometry, letters, things): one phrase for the whole message.
            pseudo = Mention(start=0, end=len(text), text=text)
            return [(self._intent(text, text, 0, len(text)), pseudo, " ".join(_content_words(text)))]
        if not mentions and self.lexicon:
            words = _content_words(text)
            if words:
                pseudo = Mention(start=0, end=len(text), text=text)
                segments.append((self._intent(text, text, 0, len(text)), pseudo, " ".join(words)))
            return segments
        for m in mentions:
            segments.append((self._intent(text, m.text, m.start, m.end), m, " ".join(_content_words(m.text))))
        return segments

    @staticmethod
    def _intent(text: str, part: str, start: int, end: int) -> str:
        """Whether the phrase ``part`` (at ``start:end`` of ``text``) asks to select, remove or keep."""
        part = _UNDO_PICK_RE.sub(" ", part)  # "deselect that, the boat": the undo is not about the boat
        if _WRONG_RE.search(part) or _WRONG_AFTER_RE.search(text[end:]):
            return "remove"
        if _KEEP_RE.search(part):
            return "keep"
        if _REMOVE_RE.search(part) and not _UNDO_RE.search(part):
            return "remove"
        return "select"

    def _score(self, mention: Mention | None, words: str, image: str) -> float:
        score = match_score(mention, self.attrs[image]) if mention is not None and not mention.is_empty else 0.0
        if mention is not None:
            facts = _facts_of(mention.text)
            if facts:
                score += fact_score(facts, self.facts[image])
        if self.lexicon:
            overlap = len(set(words.split()) & self.lexicon.get(image, frozenset()))
            score += 3.0 * overlap
        return score

    def _pick(self, mention, words, candidates: Sequence[str], *, careful: bool = True) -> str | None:
        if not candidates:
            return None
        ranked = sorted(candidates, key=lambda i: (-self._score(mention, words, i), self.order.index(i)))
        best_score = self._score(mention, words, ranked[0])
        ties = [i for i in ranked if self._score(mention, words, i) == best_score]
        choice = self.rng.choice(ties)
        if careful and self.rng.random() >= self.accuracy and len(ranked) > 1:
            others = [i for i in ranked if i != choice][:4]
            choice = self.rng.choices(others, weights=[4, 3, 2, 1][: len(others)])[0]
        return choice

    # --- acting ----------------------------------------------------------------------------------------

    def act(self, utterance: str, selection: frozenset[str], history: Sequence[HeardTurn] = ()) -> rules.Action:
        selection = frozenset(selection)
        if not selection <= set(self.order):
            raise rules.RuleError("the selection holds images outside the context")
        text = normalise(utterance)
        last = history[-1].action if history else rules.Action()
        just_selected = last.select & selection
        # Images it took back after a complaint are likely wrong: it avoids them later if it can.
        rejected = set()
        for turn in history:
            if not _RESET_RE.search(normalise(turn.utterance)):
                rejected |= turn.action.deselect
        deselect: set[str] = set()
        select: set[str] = set()
        clean = _NOT_NEGATIVE_RE.sub(" ", text)
        negative = bool(_NEGATIVE_RE.search(clean))
        segments = self._segments(text)

        if _RESET_RE.search(text):
            deselect |= selection
        elif _UNDO_RE.search(text) or _UNDO_PICK_RE.search(text):
            deselect |= just_selected
            if not just_selected:
                select |= last.deselect - selection
        elif negative and any(intent == "select" for intent, _, _ in segments) or _RETRY_RE.search(clean) or (
            negative and not segments
        ):
            deselect |= just_selected

        # "remove the second one you picked": a pick named by its place in the order of picking.
        for match in _PICK_REF_RE.finditer(text):
            picked = [i for i in _picked_order(history) if i in selection]
            if match.group(2) or match.group(1) is None or match.group(1) == "last":
                ref = sorted(last.select & selection, key=self.order.index)[-1:] or picked[-1:]
            else:
                k = _ORDINALS.index(match.group(1))
                ref = picked[k:k + 1]
            if ref and not _KEEP_RE.search(text):
                deselect.add(ref[0])

        for intent, mention, words in segments:
            current = (selection - deselect) | select
            if intent == "remove":
                choice = self._pick(mention, words, sorted(current, key=self.order.index), careful=False)
                if choice is not None:
                    if choice in select:
                        select.discard(choice)
                    else:
                        deselect.add(choice)
            elif intent == "keep":
                pool = [i for i in self.order if i not in current]
                recent = [i for i in pool if i in last.deselect]
                choice = self._pick(mention, words, recent or pool)
                if choice is not None:
                    self._add(choice, select, deselect)
            else:
                pool = [i for i in self.order if i not in current and i not in deselect]
                fresh = [i for i in pool if i not in rejected]
                choice = self._pick(mention, words, fresh or pool)
                if choice is not None:
                    self._add(choice, select, deselect)

        if _RETRY_RE.search(clean) and not any(intent == "select" for intent, _, _ in segments):
            # "try again": the last thing described, another image than the one just rejected.
            previous = self._last_description(history)
            if previous is not None:
                mention, words = previous
                current = (selection - deselect) | select
                pool = [i for i in self.order if i not in current and i not in deselect and i not in just_selected]
                fresh = [i for i in pool if i not in rejected]
                choice = self._pick(mention, words, fresh or pool)
                if choice is not None:
                    self._add(choice, select, deselect)

        action = rules.Action(deselect=frozenset(deselect & selection), select=frozenset(select - selection))
        if action.is_empty:
            # Nothing it understood to do: click the image that fits the words best (or any).
            mention = segments[0][1] if segments else None
            words = segments[0][2] if segments else ""
            unselected = [i for i in self.order if i not in selection]
            choice = self._pick(mention, words, unselected or list(self.order))
            action = (rules.Action(select=frozenset({choice})) if choice not in selection
                      else rules.Action(deselect=frozenset({choice})))
        return action

    @staticmethod
    def _add(image: str, select: set[str], deselect: set[str]) -> None:
        if image in deselect:
            deselect.discard(image)
        else:
            select.add(image)

    def _last_description(self, history: Sequence[HeardTurn]):
        for turn in reversed(history):
            for intent, mention, words in self._segments(normalise(turn.utterance)):
                if intent == "select":
                    return mention, words
        return None


_FACTS_CACHE: dict[str, frozenset[str]] = {}


def _facts_of(text: str) -> frozenset[str]:
    facts = _FACTS_CACHE.get(text)
    if facts is None:
        if len(_FACTS_CACHE) > 20000:
            _FACTS_CACHE.clear()
        facts = _FACTS_CACHE[text] = frozenset(read_facts(text))
    return facts


def _picked_order(history) -> list[str]:
    """The images selected now, in the order they were picked (from the listener's own actions)."""
    picked: list[str] = []
    for turn in history:
        picked = [i for i in picked if i not in turn.action.deselect]
        picked += sorted(turn.action.select - set(picked))  # picked together: by image id
    return picked


def _content_words(text: str) -> list[str]:
    return [w for w in text.split() if w not in _STOPWORDS and len(w) > 1]
