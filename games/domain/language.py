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


# ----------------------------------------------------------------------------- realism of speakers' language
#
# Detectors for the simulator's realism report (``language_report``): what kind of thing an utterance
# says. Each is a word class or a regex over a word family, applied to the tokens above; none lists
# the simulator's own phrases. "Follow-ups" are every utterance of a game after the first.

_APPROVAL = frozenset(
    "yes yeah yea yep yup ya yay good great nice perfect correct right awesome excellent exactly cool ok okay "
    "alright thanks thank bingo wonderful fantastic amazing brilliant sweet super superb lovely splendid terrific "
    "fine yess yesss yas woohoo hooray goodjob indeed absolutely definitely marvelous marvellous outstanding "
    "fabulous bullseye perfecto exactly precisely".split()
)
_APPROVAL_PAIRS = re.compile(
    r"^(?:\w+ ){0,2}(?:well done|got it|that is it|thats it|you got|nailed it|spot on|top notch|way to go)\b"
)
_NEGATION = frozenset(
    "no nope nah not wrong incorrect never nothing dont doesnt didnt isnt wasnt arent werent cant wont shouldnt "
    "nor neither".split()
)
_UNDO_RE = re.compile(
    r"\b(?:undo\w*|undid|(?:de|un) ?select\w*|unclick\w*|uncheck\w*|unpick\w*|unmark\w*|remov\w*|delet\w*|"
    r"get rid|take (?:\w+ ){0,3}?(?:off|away|out|back)|put (?:\w+ ){0,3}?back)\b"
)
_TRY_AGAIN_RE = re.compile(
    r"\b(?:try\w* (?:\w+ )?again|(?:one more|another) (?:try|time|go|shot|guess)|the other one|another one|"
    r"try (?:a )?different)\b"
)
_PARTIAL_RE = re.compile(
    r"\b(?:half\w*|partly|partially|partial|almost|nearly|not all|"
    r"(?:one|two|some|most) of (?:them|those|these|that|the \w+) (?:is|are|was|were) (?:right|correct|good))\b"
)
_RESET_RE = phrase_pattern(RESET_PHRASES)
_GEOMETRY_RE = re.compile(
    r"\b(?:triang\w*|squares?|diamonds?|parallelo\w*|rhomb\w*|trapez\w*|rectang\w*|polygons?|hexagons?|"
    r"pentagons?|point(?:s|ed|ing)?|angles?|angled|diagonal\w*|vertical\w*|horizontal\w*|perpendicular|"
    r"tilt\w*|slant\w*|rotated|upside down|corners?|edges?|vertex|vertices|degrees?)\b"
)
_ORDINAL_RE = re.compile(
    r"\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|\d+(?:st|nd|rd|th)?|"
    r"two|three|four|five|six|seven|eight|nine|ten|both|total|twice|pair)\b"
)
_BACKREF_RE = re.compile(
    r"\b(?:you (?:just |already |first |previously |originally |had |have )?"
    r"(?:picked|selected|chose|chosen|clicked|got|took|highlighted|marked|had)|earlier|previous\w*|before|"
    r"already|originally|last (?:one|time|pick|click|choice))\b"
)
_LETTER_BEFORE = frozenset("like an a letter capital the backwards backward upside down reverse reversed sideways big "
                           "small lowercase uppercase".split())
_LETTER_AFTER = frozenset("shape shaped shapes like".split())

CUES = ("approval", "negation", "undo", "try_again", "partial", "reset", "plain")
CATEGORIES = ("geometry", "ordinal", "back_reference", "letter")


def opens_with_approval(text: str) -> bool:
    """An approval word among the first three words ("yes", "good job", "ok perfect, now ...")."""
    words = tokenize(text)
    return any(w in _APPROVAL for w in words[:3]) or bool(_APPROVAL_PAIRS.search(" ".join(words)))


def says_letter(text: str) -> bool:
    """A letter shape: "letter", or a single letter (other than "a" / "i") after "like", "an", "letter",
    "capital"... or before "shape(d)" ("like a letter L", "an upside down v", "the t shaped one")."""
    words = tokenize(text)
    for i, w in enumerate(words):
        if w in ("letter", "letters"):
            return True
        if len(w) == 1 and w.isalpha() and w not in ("a", "i"):
            before = words[i - 1] if i else ""
            after = words[i + 1] if i + 1 < len(words) else ""
            if before in _LETTER_BEFORE or after in _LETTER_AFTER:
                return True
    return False


def detect(text: str) -> dict[str, bool]:
    """Which cues (``CUES``) and categories (``CATEGORIES``) one utterance shows. ``plain``: none of the
    feedback cues (approval, negation, undo, try again, partial, reset) — a plain description."""
    words = tokenize(text)
    joined = " ".join(words)
    found = {
        "approval": opens_with_approval(text),
        "negation": any(w in _NEGATION for w in words),
        "undo": bool(_UNDO_RE.search(joined)),
        "try_again": bool(_TRY_AGAIN_RE.search(joined)),
        "partial": bool(_PARTIAL_RE.search(joined)),
        "reset": bool(_RESET_RE.search(joined)),
    }
    found["plain"] = not any(found.values())
    found.update(
        geometry=bool(_GEOMETRY_RE.search(joined)),
        ordinal=bool(_ORDINAL_RE.search(joined)),
        back_reference=bool(_BACKREF_RE.search(joined)),
        letter=says_letter(text),
    )
    return found


# People playing MultiRef (311 real games, 2,034 utterances; see docs/simulation.md): the figures the
# realism report puts beside any set of games. Rates are fractions; cue rates are over follow-ups,
# category rates over all utterances.
REAL_REFERENCE = {
    "games": 311, "utterances": 2034, "word_types": 1251, "mean_length": 8.2, "median_length": 7.0,
    "first_mean_length": 6.5, "one_word": 0.075, "fifteen_plus": 0.12,
    "approval": 0.37, "negation": 0.30, "undo": 0.225, "try_again": 0.019, "partial": 0.008, "reset": 0.003,
    "plain": 0.25, "geometry": 0.218, "ordinal": 0.197, "back_reference": 0.059, "letter": 0.074,
}


@dataclass(frozen=True)
class RealismStats:
    """How a set of games talks: the rows of the realism report (rates are fractions)."""

    games: int
    utterances: int
    word_types: int
    tokens: int
    mean_length: float | None
    median_length: float | None
    first_mean_length: float | None
    one_word: float | None
    fifteen_plus: float | None
    follow_ups: int
    cue_rates: dict  # CUES -> fraction of follow-ups
    category_rates: dict  # CATEGORIES -> fraction of utterances
    turns_per_game: float | None
    success: float | None

    @property
    def type_token_ratio(self) -> float | None:
        return self.word_types / self.tokens if self.tokens else None

    def to_dict(self) -> dict:
        data = {f: getattr(self, f) for f in self.__dataclass_fields__ if f not in ("cue_rates", "category_rates")}
        data.update(self.cue_rates)
        data.update(self.category_rates)
        data["type_token_ratio"] = self.type_token_ratio
        return data


def realism_stats(games: Iterable[Sequence[str]], successes: Iterable[bool] | None = None) -> RealismStats:
    """The realism figures of ``games`` (each the utterances of one game, in order); ``successes`` (one per
    game) adds the success rate."""
    games = [[t for t in game if t and t.strip()] for game in games]
    games = [g for g in games if g]
    lengths: list[int] = []
    first: list[int] = []
    types: set[str] = set()
    cue_counts = Counter()
    cat_counts = Counter()
    follow_ups = 0
    for game in games:
        for i, text in enumerate(game):
            words = tokenize(text)
            lengths.append(len(words))
            types.update(words)
            if i == 0:
                first.append(len(words))
            found = detect(text)
            cat_counts.update(c for c in CATEGORIES if found[c])
            if i:
                follow_ups += 1
                cue_counts.update(c for c in CUES if found[c])
    n = len(lengths)
    ordered = sorted(lengths)
    median = None
    if n:
        median = float(ordered[n // 2]) if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    outcomes = list(successes) if successes is not None else []
    return RealismStats(
        games=len(games), utterances=n, word_types=len(types), tokens=sum(lengths),
        mean_length=sum(lengths) / n if n else None, median_length=median,
        first_mean_length=sum(first) / len(first) if first else None,
        one_word=sum(x == 1 for x in lengths) / n if n else None,
        fifteen_plus=sum(x >= 15 for x in lengths) / n if n else None,
        follow_ups=follow_ups,
        cue_rates={c: cue_counts[c] / follow_ups if follow_ups else None for c in CUES},
        category_rates={c: cat_counts[c] / n if n else None for c in CATEGORIES},
        turns_per_game=n / len(games) if games else None,
        success=sum(map(bool, outcomes)) / len(outcomes) if outcomes else None,
    )


def realism_table(stats: RealismStats, reference: dict | None = REAL_REFERENCE) -> list[tuple[str, str, str]]:
    """(figure, these games, people) rows for printing; percentages for rates."""
    data, ref = stats.to_dict(), reference or {}

    def fmt(key, value):
        if value is None:
            return "-"
        if key in ("games", "utterances", "word_types", "tokens", "follow_ups"):
            return f"{int(value):,}"
        if key in CUES or key in CATEGORIES or key in ("one_word", "fifteen_plus", "success"):
            return f"{100 * value:.1f}%"
        return f"{value:.3f}" if key == "type_token_ratio" else f"{value:.2f}"

    keys = ["games", "utterances", "word_types", "type_token_ratio", "mean_length", "median_length",
            "first_mean_length", "one_word", "fifteen_plus", "follow_ups", *CUES, *CATEGORIES, "turns_per_game",
            "success"]
    return [(k, fmt(k, data.get(k)), fmt(k, ref.get(k)) if k in ref else "-") for k in keys]
