"""Speaker populations (pure): groups of simulated speakers that talk about the same shapes with other
words.

The speaker's descriptions use one grounded vocabulary (``describe``: ``bird``, ``tall``, ``facing
left``, ``with a pointy top``...). A population gives each of its speakers an *idiolect*: for every
vocabulary phrase, the speaker keeps the plain phrase with probability ``keep`` or else picks one of the
population's alternatives, seeded by the speaker, and sticks to its choices for the whole game. The
default population (``plain``) keeps every word: it is the language the initial policy is pre-trained
on. ``shifted`` draws from the alternatives below, so a study can deploy speakers whose language the
initial policy has not seen — rounds then measure adaptation to the people deployed. Feedback words
("no", "undo", "try again") are never changed, so decoders read every population alike.

People understand each other's words: ``canonical`` maps every alternative back to the plain phrase,
and the simulated human listener reads text through it, so it copes with every population.

``people`` (``talk="people"``) swaps no words: its speakers are ``people.PeopleSpeaker``s, which talk like
people playing MultiRef (``build_speaker`` makes them).
"""
from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

# Plain phrase -> what other people call the same thing. Alternatives are never plain phrases
# themselves and never shared between two plain phrases, so ``canonical`` is unambiguous.
ALTERNATIVES: Mapping[str, tuple[str, ...]] = {
    "person": ("man", "guy", "someone"),
    "dancer": ("ballerina", "gymnast", "jumper"),
    "rocket": ("spaceship", "missile", "shuttle"),
    "tree": ("pine", "bush", "fir"),
    "tower": ("building", "skyscraper", "column"),
    "snake": ("worm", "eel", "zigzag"),
    "horse": ("pony", "camel", "donkey"),
    "dog": ("puppy", "wolf", "fox"),
    "swan": ("goose", "heron", "flamingo"),
    "boat": ("ship", "sailboat", "canoe"),
    "fish": ("whale", "shark", "dolphin"),
    "arrow": ("pointer", "signpost", "spear"),
    "crab": ("spider", "bug", "lobster"),
    "bird": ("crow", "eagle", "pigeon"),
    "house": ("hut", "barn", "cabin"),
    "cat": ("kitten", "kitty", "lion"),
    "duck": ("duckling", "penguin", "chick"),
    "table": ("bench", "desk", "stool"),
    "mushroom": ("umbrella", "lamp", "toadstool"),
    "boot": ("shoe", "sock", "foot"),
    "block": ("brick", "box", "chunk"),
    "tall": ("long", "skinny", "high"),
    "wide": ("broad", "squat", "fat"),
    "symmetric": ("regular", "balanced", "mirrored"),
    "facing": ("looking", "turned", "pointed"),
    "sticking out": ("poking out", "jutting out", "coming out"),
    "pointy top": ("sharp top", "spiky top", "peaked top"),
    "flat bottom": ("straight bottom", "level base", "flat base"),
    "hole": ("gap", "opening", "window"),
    "heavy at the": ("bulky at the", "thick at the", "chunky at the"),
}


@dataclass(frozen=True)
class Population:
    """A kind of speaker: how often a speaker keeps each plain phrase rather than an alternative."""

    name: str
    keep: float  # probability that a speaker keeps a plain phrase (1.0: the plain vocabulary)
    talk: str = "vocabulary"  # "vocabulary": the grounded vocabulary (idiolect above); "people": people.py

    def __post_init__(self) -> None:
        if not 0.0 <= self.keep <= 1.0:
            raise ValueError(f"population {self.name}: keep must be a probability, got {self.keep!r}")

    def idiolect(self, seed: int) -> dict[str, str]:
        """One speaker's choices: plain phrase -> the words this speaker uses for it (only changed ones)."""
        if self.keep >= 1.0:
            return {}
        rng = random.Random(seed)
        choices = {}
        for plain, alternatives in sorted(ALTERNATIVES.items()):
            if rng.random() >= self.keep:
                choices[plain] = rng.choice(alternatives)
        return choices


POPULATIONS: Mapping[str, Population] = {
    "plain": Population("plain", keep=1.0),
    "shifted": Population("shifted", keep=0.35),
    # Speakers that talk like people (people.py): their own idiolects, geometry, letters, back-references.
    "people": Population("people", keep=1.0, talk="people"),
}
DEFAULT_POPULATION = "plain"


def population(name: str) -> Population:
    """A population by name; ValueError (listing the known ones) for anything else."""
    try:
        return POPULATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown speaker population {name!r} (known: {', '.join(sorted(POPULATIONS))})") from None


def _pattern(phrases) -> re.Pattern:
    # Longest first, so "pointy top" wins over any shorter phrase it contains.
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in ordered) + r")\b", re.IGNORECASE)


def speak_idiolect(text: str, idiolect: Mapping[str, str]) -> str:
    """``text`` with every plain phrase the speaker changed said the speaker's way."""
    if not idiolect:
        return text
    return _pattern(idiolect).sub(lambda m: idiolect[m.group(0).lower()], text)


_CANONICAL = {alt: plain for plain, alternatives in ALTERNATIVES.items() for alt in alternatives}
_CANONICAL_RE = _pattern(_CANONICAL)


def canonical(text: str) -> str:
    """``text`` (lower case) with every population's alternatives read as the plain phrase."""
    return _CANONICAL_RE.sub(lambda m: _CANONICAL[m.group(0).lower()], text.lower())


__all__ = ["ALTERNATIVES", "Population", "POPULATIONS", "DEFAULT_POPULATION", "population", "speak_idiolect",
           "canonical"]
