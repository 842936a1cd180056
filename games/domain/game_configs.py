"""Game contexts (10 images, k targets, two screen orders): the original study's
JSON config format and a seeded generator. Pure Python, no Django."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import json
import math
import random
import re
from types import MappingProxyType
from typing import Any

from games.domain.rules import CONTEXT_SIZE, MAX_TARGETS, MIN_TARGETS

# Image ids end up in file names and URLs: keep them to a safe ASCII alphabet
# (the original names look like "page7-218" or "page-A").
IMAGE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
SVG_SUFFIX = ".svg"

# Shares of 3/4/5-target games in the original study's configs (~31/38/31 %).
DEFAULT_TARGET_WEIGHTS: Mapping[int, float] = MappingProxyType({3: 0.31, 4: 0.38, 5: 0.31})


class ConfigFormatError(ValueError):
    """A game config that cannot be used; the message is a one-line reason."""


def _is_image_id(value: object) -> bool:
    return isinstance(value, str) and IMAGE_ID_RE.fullmatch(value) is not None


@dataclass(frozen=True)
class ContextSpec:
    """One game context. The targets are the first `num_targets` of `images`.

    `speaker_order` / `listener_order` list the image ids by screen position
    (0 = top-left) for each role.
    """

    images: tuple[str, ...]
    num_targets: int
    speaker_order: tuple[str, ...]
    listener_order: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("images", "speaker_order", "listener_order"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise ConfigFormatError(f"{name} must be a sequence of image ids")
            # Store tuples so specs compare equal whatever sequence type was passed.
            object.__setattr__(self, name, tuple(value))
        images = self.images
        bad = [i for i in images if not _is_image_id(i)]
        if bad:
            raise ConfigFormatError(f"invalid image id {str(bad[0])[:40]!r}")
        if len(images) != CONTEXT_SIZE or len(set(images)) != CONTEXT_SIZE:
            raise ConfigFormatError(f"a context needs {CONTEXT_SIZE} distinct images, got {len(images)}")
        k = self.num_targets
        if isinstance(k, bool) or not isinstance(k, int) or not MIN_TARGETS <= k <= MAX_TARGETS:
            raise ConfigFormatError(f"number of targets must be {MIN_TARGETS}-{MAX_TARGETS}, got {k!r}")
        for name in ("speaker_order", "listener_order"):
            order = getattr(self, name)
            if not all(map(_is_image_id, order)) or len(order) != CONTEXT_SIZE or set(order) != set(images):
                raise ConfigFormatError(f"{name} is not a permutation of the images")

    @property
    def targets(self) -> frozenset[str]:
        return frozenset(self.images[: self.num_targets])


# ------------------------------------------------------------ original JSON format


def _load(data: bytes | str | dict) -> dict:
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ConfigFormatError("config is not UTF-8 text") from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
            raise ConfigFormatError("config is not valid JSON") from None
    if not isinstance(data, dict):
        raise ConfigFormatError("config must be a JSON object")
    return data


def _permutation(value: Any, what: str) -> list[int]:
    if not isinstance(value, list) or len(value) != CONTEXT_SIZE:
        raise ConfigFormatError(f"{what} must be a list of {CONTEXT_SIZE} positions")
    if any(isinstance(p, bool) or not isinstance(p, int) for p in value):
        raise ConfigFormatError(f"{what} must hold integers")
    if sorted(value) != list(range(CONTEXT_SIZE)):
        raise ConfigFormatError(f"{what} is not a permutation of 0..{CONTEXT_SIZE - 1}")
    return value


def parse_original_config(data: bytes | str | dict) -> ContextSpec:
    """Parse one game config of the original study; ConfigFormatError on any problem.

    Targets that are in `img` but not its first k entries are accepted: `img` is
    reordered (targets first, both parts keeping their `img` order). Screen
    positions are per image, so the orders are unaffected. `params` and `base`
    are ignored (must be objects when present); `roles`, when present, must be [0, 1].
    """
    top = _load(data)
    if "params" in top and not isinstance(top["params"], dict):
        raise ConfigFormatError("params must be an object")
    blocks = top.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        raise ConfigFormatError("missing blocks")
    if len(blocks) != 1:
        raise ConfigFormatError(f"expected one block, got {len(blocks)}")
    block = blocks[0]
    if not isinstance(block, dict):
        raise ConfigFormatError("block must be an object")
    if "base" in block and not isinstance(block["base"], dict):
        raise ConfigFormatError("base must be an object")
    roles = block.get("roles", [0, 1])
    if not (isinstance(roles, list) and [type(r) for r in roles] == [int, int] and roles == [0, 1]):
        raise ConfigFormatError("roles must be [0, 1]")

    img = block.get("img")
    if not isinstance(img, list) or len(img) != CONTEXT_SIZE:
        raise ConfigFormatError(f"img must be a list of {CONTEXT_SIZE} names")
    ids: list[str] = []
    for name in img:
        if not isinstance(name, str) or not name.endswith(SVG_SUFFIX):
            raise ConfigFormatError("img names must be strings ending in .svg")
        image_id = name[: -len(SVG_SUFFIX)]
        if not _is_image_id(image_id):
            raise ConfigFormatError(f"invalid image name {name[:40]!r}")
        ids.append(image_id)
    if len(set(ids)) != CONTEXT_SIZE:
        raise ConfigFormatError("img names must be distinct")

    tgt = block.get("tgt")
    if not isinstance(tgt, list) or len(tgt) != 1 or not isinstance(tgt[0], list):
        raise ConfigFormatError("tgt must be a list holding one list of targets")
    targets = tgt[0]
    if any(not isinstance(t, str) for t in targets):
        raise ConfigFormatError("targets must be strings")
    if len(set(targets)) != len(targets):
        raise ConfigFormatError("targets must be distinct")
    if not set(targets) <= set(img):
        raise ConfigFormatError("targets must be images of img")
    if not MIN_TARGETS <= len(targets) <= MAX_TARGETS:
        raise ConfigFormatError(f"number of targets must be {MIN_TARGETS}-{MAX_TARGETS}, got {len(targets)}")

    order = block.get("order")
    if not isinstance(order, list) or len(order) != 2:
        raise ConfigFormatError("order must hold two permutations (speaker, listener)")
    screens = []
    for role, what in enumerate(("speaker order", "listener order")):
        perm = _permutation(order[role], what)
        # The server puts image i at screen position perm[i].
        screen = [""] * CONTEXT_SIZE
        for i, pos in enumerate(perm):
            screen[pos] = ids[i]
        screens.append(tuple(screen))

    target_ids = {t[: -len(SVG_SUFFIX)] for t in targets}
    images = [i for i in ids if i in target_ids] + [i for i in ids if i not in target_ids]
    return ContextSpec(tuple(images), len(targets), screens[0], screens[1])


def to_original_config(spec: ContextSpec) -> dict:
    """Export in the original format; `parse_original_config` gives `spec` back."""
    names = [i + SVG_SUFFIX for i in spec.images]
    orders = []
    for screen in (spec.speaker_order, spec.listener_order):
        position = {image: pos for pos, image in enumerate(screen)}
        orders.append([position[i] for i in spec.images])
    return {
        "params": {"p_similarity": 1, "num_random": 0},
        "blocks": [
            {
                "base": {i: [i] for i in spec.images},  # trivial: no similarity blocks
                "img": names,
                "tgt": [names[: spec.num_targets]],
                "order": orders,
                "roles": [0, 1],
            }
        ],
    }


# ---------------------------------------------------------------------- generator


def _check_weights(weights: Mapping[int, float]) -> tuple[list[int], list[float]]:
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError("target_weights must be a non-empty mapping")
    ks, ws = [], []
    for k, w in sorted(weights.items()):
        if isinstance(k, bool) or not isinstance(k, int) or not MIN_TARGETS <= k <= MAX_TARGETS:
            raise ValueError(f"target_weights keys must be {MIN_TARGETS}-{MAX_TARGETS}, got {k!r}")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f"target_weights values must be finite and >= 0, got {w!r}")
        ks.append(k)
        ws.append(float(w))
    if sum(ws) <= 0:
        raise ValueError("target_weights must have a positive total")
    return ks, ws


def generate_contexts(
    pool: Sequence[str],
    count: int,
    *,
    seed: int,
    target_weights: Mapping[int, float] = DEFAULT_TARGET_WEIGHTS,
) -> list[ContextSpec]:
    """`count` random contexts drawn from `pool`, deterministic under `seed`.

    Images are dealt from a shuffled deck of the pool, reshuffled when it runs out,
    so every image is used about equally often; an image never repeats inside a
    context. The pool is de-duplicated and sorted first, so the result does not
    depend on the pool's order. ValueError on bad arguments.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be an integer >= 0, got {count!r}")
    if isinstance(pool, (str, bytes)):
        raise ValueError("pool must be a sequence of image ids, not a string")
    bad = [i for i in pool if not _is_image_id(i)]
    if bad:
        raise ValueError(f"invalid image id in pool: {str(bad[0])[:40]!r}")
    distinct = set(pool)
    if len(distinct) < CONTEXT_SIZE:
        raise ValueError(f"pool needs at least {CONTEXT_SIZE} distinct images, got {len(distinct)}")
    ks, ws = _check_weights(target_weights)

    rng = random.Random(seed)
    base = sorted(distinct)
    deck: list[str] = []
    contexts: list[ContextSpec] = []
    for _ in range(count):
        images: list[str] = []
        skipped: list[str] = []
        while len(images) < CONTEXT_SIZE:
            if not deck:
                deck = base[:]
                rng.shuffle(deck)
            image = deck.pop()
            if image in images:
                skipped.append(image)  # already in this context: keep it for the next one
            else:
                images.append(image)
        deck.extend(skipped)  # top of the deck, dealt first next time
        k = rng.choices(ks, weights=ws)[0]
        speaker = rng.sample(images, CONTEXT_SIZE)
        listener = rng.sample(images, CONTEXT_SIZE)
        while listener == speaker:  # the two roles should see different layouts
            listener = rng.sample(images, CONTEXT_SIZE)
        contexts.append(ContextSpec(tuple(images), k, tuple(speaker), tuple(listener)))
    return contexts


__all__ = [
    "ConfigFormatError", "ContextSpec", "DEFAULT_TARGET_WEIGHTS", "IMAGE_ID_RE",
    "parse_original_config", "to_original_config", "generate_contexts",
]
