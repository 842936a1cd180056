"""What the simulated speaker says around its descriptions (pure).

Placeholders: ``{the}`` is a description with "the" ("the tall bird"), ``{a}`` the same with "a"
("a tall bird"), ``{name}`` the bare figurative name ("bird"). The lists are ours; their kinds
follow what people wrote in the original study: approvals that move on ("yes, now the bird"),
plain moving on, corrections ("no, the other boat"), undo requests, rephrasings, "try again",
partial approval, resets when frustrated ("clear all, start over"), and the occasional "no" that
is not negative ("no problem, now the boat").
"""
from __future__ import annotations

import random

# First description of the game.
FIRST = (
    "{the}", "{the}", "{the}", "{a}", "the one that looks like {a}", "first {the}", "start with {the}",
    "find {the}", "select {the}", "click {the}", "pick {the}", "looks like {a}", "ok first {the}",
)
# Moving on to the next target (after an approval, or on its own: "silent" moving on).
NEXT = (
    "now {the}", "now {the}", "next {the}", "and {the}", "also {the}", "then {the}", "{the} next",
    "next is {the}", "ok now {the}", "now the one that looks like {a}", "now pick {the}", "{the}",
)
APPROVE = (
    "yes", "yes", "yes!", "good", "great", "perfect", "nice", "correct", "right", "good job", "yep",
    "that's it", "awesome", "ok good", "yes good", "exactly",
)
# Approvals that contain a "no" (misleading for a keyword reader).
APPROVE_WITH_NO = ("no problem", "no worries", "not bad at all", "no mistakes", "nothing wrong there")
# Plain negative openers.
NEGATIVE = (
    "no", "no", "no, not that one", "nope", "wrong one", "not that one", "no that's wrong", "that's not it",
    "no, wrong", "not quite",
)
# Negatives that open with a positive-sounding word (misleading for a keyword reader).
NEGATIVE_WITH_YES = ("ok but not that one", "yes that shape is close but it's the wrong one",
                     "good try, but no", "right idea, wrong one")
# After a negative opener: the target again.
CORRECT_TAIL = ("{the}", "I meant {the}", "it's {the}", "look for {the}", "I need {the}", "find {the}")
UNDO = (
    "undo that", "undo", "deselect the last one", "remove what you just picked", "unselect that",
    "take that one back", "that one is wrong, deselect it", "wrong, undo your last click",
)
REMOVE = ("unselect {the}", "deselect {the}", "remove {the}", "take off {the}", "{the} is wrong, remove it")
REPHRASE = ("I meant {the}", "the other {name}", "look again, {the}", "it's {the}", "try {the}",
            "no, the other {name}, {the}")
TRY_AGAIN = ("try again", "try one more time", "the other one", "not quite, try again", "another one")
PARTIAL = ("one of those is right", "almost", "close", "half right", "some of that is right",
           "good but not all of it")
PARTIAL_TAIL = ("but unselect {the}", "but {the} is wrong", "but remove {the}")
PARTIAL_KEEP_TAIL = ("but keep {the}", "but put {the} back", "but don't remove {the}")
RESET = (
    "clear all, start over", "deselect everything", "let's start over", "reset", "remove all and start over",
    "unselect all", "clear everything", "start from scratch", "drop everything, let's start over",
)
KEEP = ("no, keep {the}", "don't remove {the}", "{the} was right, put it back", "no, select {the} again")
FIX = ("now unselect {the}", "just remove {the}", "last thing, deselect {the}", "now take off {the}")
JOIN = (", ", ", ", ". ", "! ", " ")


def fill(template: str, the: str, a: str, name: str) -> str:
    return template.format(the=the, a=a, name=name)


def add_typo(text: str, rng: random.Random) -> str:
    """One keyboard slip in a word of four or more letters: swapped, dropped or doubled letter."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    elif kind == 1:
        w = w[:j] + w[j + 1:]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def casual(text: str, rng: random.Random, casual_rate: float) -> str:
    """People's messages are often lower case without a final stop; the rest are tidied up."""
    if rng.random() < casual_rate:
        return text.rstrip(".")
    text = text[:1].upper() + text[1:]
    return text if text.endswith(("!", "?", ".")) else text + "."
