"""Robust mapping of a prompted decoder's raw output to a label.

The study matched three exact strings and crashed on anything else. Here: special tokens are
dropped, case, punctuation, whitespace and extra words are ignored, a label word may be cut short
by the token budget (``Neutr``), and anything else - no label word, two different labels, a negated
answer ("not positive"), or ``neutral`` from a binary decoder - is ``unparsed`` (stored, never
trained on). Never raises.
"""
from __future__ import annotations

import re

from feedback.domain.labels import NEGATIVE, NEUTRAL, POSITIVE, UNPARSED

_LABEL_WORDS = {"positive": POSITIVE, "negative": NEGATIVE, "neutral": NEUTRAL}
_MARKER = re.compile(r"<[^<>\s]{1,40}>")
_NEGATORS = {"not", "no", "never", "non", "isnt", "nor", "neither"}
_MIN_PREFIX = 3  # "pos", "neg", "neu" are unambiguous among the three
_MAX_CHARS = 2000


def _word_label(word: str) -> str | None:
    for full, label in _LABEL_WORDS.items():
        if word == full or word == full + "ly":  # "Positively."
            return label
        if len(word) >= _MIN_PREFIX and full.startswith(word):  # cut short by the token budget
            return label
    return None


def map_output(raw: object, *, binary: bool) -> tuple[str, str]:
    """(label, reason); reason is empty unless the label is ``unparsed``."""
    if not isinstance(raw, str):
        return UNPARSED, f"output is not text ({type(raw).__name__})"
    text = _MARKER.sub(" ", raw[:_MAX_CHARS]).lower()
    # If the model echoed a transcript, only its last answer counts.
    cut = text.rfind("assistant:")
    if cut >= 0:
        text = text[cut + len("assistant:"):]
    words = re.findall(r"[a-z]+", text.replace("'", ""))
    found: list[str] = []
    for i, word in enumerate(words):
        label = _word_label(word)
        if label is None:
            continue
        if i > 0 and words[i - 1] in _NEGATORS:
            return UNPARSED, f"negated answer ({words[i - 1]} {word})"
        found.append(label)
    if not found:
        return UNPARSED, "no label word" if words else "empty output"
    if len(set(found)) > 1:
        return UNPARSED, "several labels: " + ", ".join(dict.fromkeys(found))
    label = found[0]
    if binary and label == NEUTRAL:
        return UNPARSED, "neutral from a binary decoder"
    return label, ""


__all__ = ["map_output"]
