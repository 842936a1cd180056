"""Descriptions of tangram figures from their visual attributes, and how to read them back (pure).

A description is a noun phrase built from a small, stable vocabulary whose words are grounded in
the silhouette (``shape_features``): a figurative name (``bird``, ``tower``, ...), ``tall`` /
``wide``, ``facing left`` / ``facing right``, ``with a piece sticking out at the top right``,
``with a pointy top``, ``with a flat bottom``, ``symmetric``, ``with a hole``, ``heavy at the
bottom``. The name is always said; the other attributes are chosen pragmatically, greedily
preferring the ones that rule out most of the other images in the context, so the same figure keeps
the same core words while the phrase tells it apart from its neighbours. Variety lives in the frame
around the phrase ("the one that looks like ...", "ok now the ..."), not in synonyms.

``parse_mentions`` and ``match_score`` read such phrases back; the simulated human listener uses
them (together with what it sees of each image) to follow the speaker.
"""
from __future__ import annotations

import difflib
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from games.simulation.agents.populations import canonical
from games.simulation.agents.shape_features import DIRECTIONS, SHAPE_NAMES, ShapeFeatures

# Attribute keys in the order they are preferred when they rule out equally many images.
ATTRIBUTE_ORDER = ("proportion", "facing", "out", "pointy", "flat", "heavy", "symmetric", "hole", "out2")

_OUT_FRAMES = ("with a piece sticking out at the {d}", "with something sticking out at the {d}",
               "with a bit sticking out on the {d}")
_OUT2_FRAMES = ("and another piece sticking out at the {d}", "and something sticking out at the {d} too")


def figure_attributes(f: ShapeFeatures) -> dict[str, str]:
    """The figure's describable attributes: key -> value (absent when it does not apply)."""
    attrs: dict[str, str] = {"name": f.shape_name}
    if f.proportion in ("tall", "wide"):
        attrs["proportion"] = f.proportion
    if f.facing:
        attrs["facing"] = f.facing
    out = f.sticking_out()
    if out:
        attrs["out"] = out[0]
    if len(out) > 1:
        attrs["out2"] = out[1]
    if f.is_pointy_top:
        attrs["pointy"] = "top"
    if f.is_flat_bottom:
        attrs["flat"] = "bottom"
    if f.heavy_side:
        attrs["heavy"] = f.heavy_side
    if f.is_symmetric:
        attrs["symmetric"] = "yes"
    if f.holes:
        attrs["hole"] = "yes"
    return attrs


def _rules_out(key: str, value: str, other: Mapping[str, str]) -> bool:
    """Whether saying (key, value) of the target excludes an image with attributes ``other``."""
    if key in ("out", "out2"):
        return value not in (other.get("out"), other.get("out2"))
    return other.get(key) != value


def choose_attributes(
    target: Mapping[str, str], others: Sequence[Mapping[str, str]], *, max_attributes: int = 3
) -> tuple[str, ...]:
    """Attribute keys (besides the name, always said) that tell the target from ``others``.

    Greedy: the attribute that rules out most remaining images, ties by ATTRIBUTE_ORDER; stops when
    every other image is ruled out or nothing helps. Deterministic.
    """
    remaining = [o for o in others if o.get("name") == target["name"]]
    # Images with another name are already ruled out by the name, but a listener confuses names
    # more easily than, say, "tall": keep one more attribute when it separates most of them.
    chosen: list[str] = []
    candidates = [k for k in ATTRIBUTE_ORDER if k in target]
    if "out2" in candidates and "out" not in candidates:
        candidates.remove("out2")
    while remaining and len(chosen) < max_attributes:
        best, best_count = None, 0
        for key in candidates:
            if key in chosen or (key == "out2" and "out" not in chosen):
                continue
            count = sum(_rules_out(key, target[key], o) for o in remaining)
            if count > best_count:
                best, best_count = key, count
        if best is None:
            break
        chosen.append(best)
        remaining = [o for o in remaining if not _rules_out(best, target[best], o)]
    if not chosen and others:
        # Nothing shares the name: add the attribute that sets it apart from most images anyway.
        scores = [(sum(_rules_out(k, target[k], o) for o in others), -ATTRIBUTE_ORDER.index(k))
                  for k in candidates if k != "out2"]
        if scores:
            best_score, neg_index = max(scores)
            if best_score >= len(others) / 2:
                chosen.append(ATTRIBUTE_ORDER[-neg_index])
    return tuple(chosen)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def noun_phrase(attrs: Mapping[str, str], keys: Sequence[str], rng: random.Random | None = None) -> str:
    """The words for ``keys`` of ``attrs`` around the name, e.g. "tall bird facing left with a
    piece sticking out at the top". ``rng`` varies only the small frames of the protrusion part."""
    rng = rng or random.Random(0)
    words = []
    if "proportion" in keys:
        words.append(attrs["proportion"])
    if "symmetric" in keys:
        words.append("symmetric")
    words.append(attrs["name"])
    if "facing" in keys:
        words.append(f"facing {attrs['facing']}")
    tails = []
    if "out" in keys:
        tails.append(rng.choice(_OUT_FRAMES).format(d=attrs["out"]))
        if "out2" in keys:
            tails.append(rng.choice(_OUT2_FRAMES).format(d=attrs["out2"]))
    if "pointy" in keys:
        tails.append("with a pointy top")
    if "flat" in keys:
        tails.append("with a flat bottom")
    if "hole" in keys:
        tails.append("with a hole in it")
    if "heavy" in keys:
        tails.append(f"heavy at the {attrs['heavy']}")
    for i, tail in enumerate(tails):
        if i and tail.startswith("with "):
            tail = "and " + tail[len("with "):]
        words.append(tail)
    return " ".join(words)


@dataclass(frozen=True)
class Description:
    """A phrase for one image and what it says."""

    phrase: str  # noun phrase without article or frame, e.g. "tall bird facing left"
    keys: tuple[str, ...]  # attribute keys used besides the name
    core: tuple[str, ...]  # the stable core words (the name and the first distinguishing attribute)
    human: bool = False  # taken from a human annotation rather than built from attributes


def describe(
    target: Mapping[str, str],
    others: Sequence[Mapping[str, str]],
    *,
    extra: int = 0,
    rng: random.Random | None = None,
) -> Description:
    """The pragmatic description of ``target`` among ``others``; ``extra`` adds that many further
    attributes (over-specification, as people do, and rephrasing)."""
    keys = list(choose_attributes(target, others))
    for key in ATTRIBUTE_ORDER:
        if extra <= 0:
            break
        if key in target and key not in keys and (key != "out2" or "out" in keys):
            keys.append(key)
            extra -= 1
    phrase = noun_phrase(target, keys, rng)
    core = (target["name"],) + ((_core_word(target, keys[0]),) if keys else ())
    return Description(phrase=phrase, keys=tuple(keys), core=core)


def _core_word(attrs: Mapping[str, str], key: str) -> str:
    value = attrs[key]
    return {"facing": f"facing {value}", "out": value, "out2": value, "pointy": "pointy", "flat": "flat",
            "heavy": f"heavy {value}", "symmetric": "symmetric", "hole": "hole"}.get(key, value)


def with_article(phrase: str, definite: bool = True) -> str:
    return f"the {phrase}" if definite else f"{_article(phrase)} {phrase}"


# --------------------------------------------------------------------------- reading back


VOCABULARY = frozenset(
    set(SHAPE_NAMES) | {"tall", "wide", "facing", "left", "right", "top", "bottom", "sticking", "pointy", "flat",
                        "symmetric", "hole", "heavy"}
)
_DIR_RE = "|".join(sorted((re.escape(d) for d in DIRECTIONS), key=len, reverse=True))
_NAME_RE = re.compile(r"\b(" + "|".join(sorted(SHAPE_NAMES, key=len, reverse=True)) + r")s?\b")
_FACING_RE = re.compile(r"\bfacing (left|right)\b")
_OUT_RE = re.compile(r"\bsticking out (?:at|on) the (" + _DIR_RE + r")\b")
_HEAVY_RE = re.compile(r"\bheavy (?:at|on) the (top|bottom)\b")


# Words people use that are a letter away from the vocabulary but are not typos of it ("three" is not
# "tree"). The plain and shifted speakers never say them.
NOT_TYPOS = frozenset(
    "three lower points cart mouse rock sneaker sparrow stocking kicking alright bobcat clock holder atop booth cable "
    "hose stable tablet thrower".split()
)


@dataclass
class Mention:
    """What one noun phrase of an utterance says about an image (None: not said)."""

    name: str | None = None
    proportion: str | None = None
    facing: str | None = None
    out: list[str] = field(default_factory=list)
    pointy: bool = False
    flat: bool = False
    symmetric: bool = False
    hole: bool = False
    heavy: str | None = None
    start: int = 0  # character span in the normalised utterance
    end: int = 0
    text: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.name or self.proportion or self.facing or self.out or self.pointy or self.flat
                    or self.symmetric or self.hole or self.heavy)


def normalise(text: str) -> str:
    """Lower case, every speaker population's words read as the plain vocabulary (``populations``),
    punctuation to spaces, and words within a typo of the vocabulary repaired."""
    tokens = re.findall(r"[a-z']+", canonical(text))
    fixed = []
    for tok in tokens:
        if tok not in VOCABULARY and tok not in NOT_TYPOS and len(tok) >= 4:
            close = difflib.get_close_matches(tok, VOCABULARY, n=1, cutoff=0.8)
            if close:
                tok = close[0]
        fixed.append(tok)
    return " ".join(fixed)


def parse_mentions(text: str) -> list[Mention]:
    """Noun phrases of a normalised utterance, one per figurative name (plus one for attributes said
    without a name). Attributes belong to the nearest name before them, or the next one."""
    names = list(_NAME_RE.finditer(text))
    # Each phrase spans from after the previous phrase's name to just before the next name,
    # split at connectives ("and the", "now", ",") so that a trailing clause goes to the right name.
    spans: list[tuple[int, int, str | None]] = []
    if not names:
        spans.append((0, len(text), None))
    else:
        starts = [0] + [_clause_start(text, names[i - 1].end(), names[i].start()) for i in range(1, len(names))]
        ends = starts[1:] + [len(text)]
        spans = [(s, e, m.group(1)) for s, e, m in zip(starts, ends, names)]
    mentions = []
    for start, end, name in spans:
        part = text[start:end]
        m = Mention(name=name, start=start, end=end, text=part)
        words = set(part.split())
        if "tall" in words:
            m.proportion = "tall"
        elif "wide" in words:
            m.proportion = "wide"
        facing = _FACING_RE.search(part)
        if facing:
            m.facing = facing.group(1)
        m.out = [g.group(1) for g in _OUT_RE.finditer(part)]
        m.pointy = "pointy" in words
        m.flat = "flat" in words
        m.symmetric = "symmetric" in words
        m.hole = "hole" in words
        heavy = _HEAVY_RE.search(part)
        if heavy:
            m.heavy = heavy.group(1)
        if not m.is_empty:
            mentions.append(m)
    return mentions


_CONNECTIVES = re.compile(r"(?:\band\b|\bnow\b|\bnext\b|\bthen\b|\balso\b|\bbut\b|\bnot\b|\bplus\b)")


def _clause_start(text: str, after_prev: int, before_next: int) -> int:
    """Where the phrase of the next name begins: after the last connective between the names, or
    just before the next name's adjectives."""
    between = text[after_prev:before_next]
    last = None
    for match in _CONNECTIVES.finditer(between):
        # "... sticking out at the top and another piece ..." keeps "and another" with the previous name.
        if between[match.end():].lstrip().startswith(("another", "something", "a bit", "a piece")):
            continue
        last = match
    if last is not None:
        return after_prev + last.start()
    # No connective: adjectives right before the name belong to it.
    words = between.rstrip().split(" ")
    keep = 0
    for word in reversed(words):
        if word in ("tall", "wide", "symmetric", "the", "a", "an"):
            keep += len(word) + 1
        else:
            break
    return max(after_prev, before_next - keep)


def match_score(mention: Mention, attrs: Mapping[str, str]) -> float:
    """How well an image's attributes fit a mention: +2 for the name, +1 per matching attribute,
    -1 (name: -1.5) per contradicted one."""
    score = 0.0
    if mention.name:
        score += 2.0 if attrs.get("name") == mention.name else -1.5
    if mention.proportion:
        score += 1.0 if attrs.get("proportion") == mention.proportion else -1.0
    if mention.facing:
        score += 1.0 if attrs.get("facing") == mention.facing else -1.0
    for d in mention.out:
        score += 1.0 if d in (attrs.get("out"), attrs.get("out2")) else -1.0
    for key, said in (("pointy", mention.pointy), ("flat", mention.flat), ("symmetric", mention.symmetric),
                      ("hole", mention.hole)):
        if said:
            score += 1.0 if key in attrs else -1.0
    if mention.heavy:
        score += 1.0 if attrs.get("heavy") == mention.heavy else -1.0
    return score


def distinguishes(description_keys: Sequence[str], target: Mapping[str, str], other: Mapping[str, str]) -> bool:
    """Whether a description of ``target`` with these keys (and the name) rules ``other`` out."""
    if other.get("name") != target["name"]:
        return True
    return any(_rules_out(k, target[k], other) for k in description_keys)
