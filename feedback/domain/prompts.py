"""Instructions of the prompted feedback decoder (our own wording of the study's cues) and the
left truncation that keeps them whole.

The decoder reads one user message: the instruction, the window as a short transcript between
markers, and the question; the chat template adds the generation prompt. Binary and ternary differ
only in the question, the answer line, and the binary variant's "lean negative" sentence.

Any change to the texts below must come with a new ``PROMPT_VERSION``: labels are stored per
(decoder, prompt version), so old and new labels never mix (``tests/feedback`` pins the texts'
fingerprints to the version).
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

PROMPT_VERSION = "v1"
ELLIPSIS = "\u2026"

_GAME = (
    "You are reviewing a picture-matching game. The speaker can see which pictures are the targets and "
    "describes them, one at a time; the listener cannot see them and answers each message by selecting or "
    "deselecting pictures by letter. After every move the speaker sees whether the listener's choice was right.\n"
)
_CUES = (
    "Negative feedback: the speaker corrects the listener, repeats or rewords the same description, or says "
    "things like no, not, wrong, undo, don't, remove, try again; or sounds annoyed.\n"
    "Positive feedback: the speaker approves (yes, good, correct, okay, great) or simply goes on to describe "
    "the next picture.\n"
)
_OPEN = "=== conversation ===\n"
_CLOSE = "\n=== end ===\n"


@dataclass(frozen=True)
class PromptTemplate:
    """Text before and after the transcript."""

    variant: str  # "binary" | "ternary"
    head: str
    tail: str

    def render(self, conversation: str) -> str:
        return self.head + conversation + self.tail

    def fingerprint(self) -> str:
        return hashlib.sha256((self.head + "\x00" + self.tail).encode()).hexdigest()[:16]


BINARY = PromptTemplate(
    variant="binary",
    head=(
        _GAME + "\nJudge the speaker's last message: is it positive or negative feedback on the listener's move "
        "just before it?\n" + _CUES + "When the message seems to be neither, answer Negative.\n\n" + _OPEN
    ),
    tail=_CLOSE + "Answer with a single word: Positive or Negative.",
)

TERNARY = PromptTemplate(
    variant="ternary",
    head=(
        _GAME + "\nJudge the speaker's last message: is it positive, neutral or negative feedback on the "
        "listener's move just before it?\n" + _CUES + "\n" + _OPEN
    ),
    tail=_CLOSE + "Answer with a single word: Positive, Neutral or Negative.",
)

TEMPLATES = {"binary": BINARY, "ternary": TERNARY}


class PromptTooLong(ValueError):
    """The instruction alone does not fit the model's input budget."""


def truncate_left(text: str, fits: Callable[[str], bool]) -> tuple[str, bool]:
    """``text`` itself when it fits; otherwise its shortest left cut at a word boundary that fits,
    marked with an ellipsis. Returns (text, truncated). ``fits`` must be monotone (fewer words never
    stop fitting); binary search keeps it to ~log2(words) calls. PromptTooLong when not even the
    bare ellipsis fits."""
    if fits(text):
        return text, False
    starts = [m.start() for m in re.finditer(r"\S+", text)]

    def cut(k: int) -> str:  # drop the first k words
        return ELLIPSIS + (" " + text[starts[k]:] if k < len(starts) else "")

    if not fits(cut(len(starts))):
        raise PromptTooLong("the instruction leaves no room for the conversation")
    lo, hi = 1, len(starts)  # cut(hi) fits; find the smallest k that fits
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(cut(mid)):
            hi = mid
        else:
            lo = mid + 1
    return cut(lo), True


__all__ = ["PROMPT_VERSION", "ELLIPSIS", "PromptTemplate", "BINARY", "TERNARY", "TEMPLATES", "PromptTooLong",
           "truncate_left"]
