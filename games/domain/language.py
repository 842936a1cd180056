"""Measuring speakers' language (pure): the one tokenizer and phrase counter used by the study report's
language trends and by the simulator's realism report.

Tokens are lower-cased runs of letters and digits (apostrophes dropped: "don't" -> "dont"), the
study's "unique lower-cased alphanumeric tokens". Phrase lists match whole words, case-insensitively,
and count occurrences (not utterances).
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_TOKEN = re.compile(r"[a-z0-9]+")

# The study's keyword lists (reference/original-system.md, section 5.2).
RESET_PHRASES = (
    "reset", "restart", "from scratch", "all over", "start over", "deselect everything", "deselect all",
    "remove everything", "remove all", "clear everything", "clear all", "unselect everything", "unselect all",
    "drop everything", "drop all",
)
TRY_AGAIN_PHRASES = ("try again", "try one more time", "the other one")


def tokenize(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens of one utterance."""
    return _TOKEN.findall(text.lower().replace("'", "").replace("\u2019", ""))


def phrase_pattern(phrases: Sequence[str]) -> re.Pattern:
    """One regex matching any of ``phrases`` as whole words (longest first), case-insensitively."""
    ordered = sorted(set(phrases), key=len, reverse=True)
    body = "|".join(r"\s+".join(map(re.escape, p.split())) for p in ordered)
    return re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])", re.IGNORECASE)


def count_phrases(texts: Iterable[str], phrases: Sequence[str]) -> int:
    """How many times any of ``phrases`` occurs in ``texts``."""
    pattern = phrase_pattern(phrases)
    return sum(len(pattern.findall(text)) for text in texts)


@dataclass(frozen=True)
class LanguageStats:
    """Corpus-level statistics of a set of utterances."""

    utterances: int
    tokens: int
    vocabulary: int  # distinct tokens
    mean_length: float | None  # tokens per utterance
    reset_mentions: int
    try_again_mentions: int

    @property
    def type_token_ratio(self) -> float | None:
        return self.vocabulary / self.tokens if self.tokens else None

    def to_dict(self) -> dict:
        return {
            "utterances": self.utterances, "tokens": self.tokens, "vocabulary": self.vocabulary,
            "mean_length": self.mean_length, "type_token_ratio": self.type_token_ratio,
            "reset_mentions": self.reset_mentions, "try_again_mentions": self.try_again_mentions,
        }


def language_stats(texts: Iterable[str]) -> LanguageStats:
    """Vocabulary size, utterance length and the reset / try-again counts of a corpus."""
    texts = [t for t in texts if t and t.strip()]
    counts: Counter[str] = Counter()
    tokens = 0
    for text in texts:
        words = tokenize(text)
        tokens += len(words)
        counts.update(words)
    return LanguageStats(
        utterances=len(texts),
        tokens=tokens,
        vocabulary=len(counts),
        mean_length=tokens / len(texts) if texts else None,
        reset_mentions=count_phrases(texts, RESET_PHRASES),
        try_again_mentions=count_phrases(texts, TRY_AGAIN_PHRASES),
    )
