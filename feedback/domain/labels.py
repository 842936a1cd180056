"""Feedback labels: what a decoder says about one listener action."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

POSITIVE = "positive"
NEUTRAL = "neutral"
NEGATIVE = "negative"
UNPARSED = "unparsed"  # the decoder's output was not recognised: stored, never trained on

CLASSES = (POSITIVE, NEUTRAL, NEGATIVE)
BINARY_CLASSES = (POSITIVE, NEGATIVE)
ALL_LABELS = (*CLASSES, UNPARSED)

# The numeric reward of the study (+1 / 0 / -1); unparsed has none.
REWARD = {POSITIVE: 1, NEUTRAL: 0, NEGATIVE: -1}


@dataclass(frozen=True)
class DecodedLabel:
    """One decoded label, with the decoder's raw output (model text or lexicon rule trace)."""

    label: str
    raw_output: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.label not in ALL_LABELS:
            raise ValueError(f"unknown feedback label {self.label!r}")


def to_binary(label: str) -> str:
    """Binary view: neutral leans negative (as the study's binary prompt asks)."""
    return NEGATIVE if label == NEUTRAL else label


__all__ = [
    "POSITIVE", "NEUTRAL", "NEGATIVE", "UNPARSED", "CLASSES", "BINARY_CLASSES", "ALL_LABELS", "REWARD",
    "DecodedLabel", "to_binary",
]
