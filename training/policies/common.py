"""What both model backends (Idefics, compact listener) share when they act: errors, the recorded error
fallback, the image source and its decoded-image cache, temperature checks, and the act loop that
answers every request even when some cannot be prepared."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from games.domain.rules import PROBABILITY_ERROR, RuleError
from training.policies.base import ActRequest, ActResult
from training.policies.caches import LRUCache

log = logging.getLogger(__name__)

SOURCE_ERROR = "error"

# Where a policy gets tangram images: ``source(names) -> {name: png bytes}``, missing names absent
# (``training.selectors.tangram_pngs`` in the platform).
ImageSource = Callable[[Sequence[str]], Mapping[str, bytes]]

T = TypeVar("T")


class ImageError(LookupError):
    """Images missing from the library or not decodable."""


# What preparing one request may raise for that request alone (a malformed order, a missing image,
# bad decoding settings); anything else is a failure of the whole call.
REQUEST_ERRORS = (RuleError, ImageError, ValueError)


def short_error(exc: BaseException) -> str:
    """An exception as one line of at most 300 characters."""
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def error_result(request: ActRequest, reason: str) -> ActResult:
    """The recorded error fallback: toggle the listener's first image, probability -2."""
    first = frozenset(request.listener_order[:1])
    return ActResult(
        select=first - request.selection, deselect=first & request.selection, raw_output="",
        probability=PROBABILITY_ERROR, source=SOURCE_ERROR, extra={"error": reason},
    )


def attach_adapter(base: Any, adapter_path: str | os.PathLike | None, name: str | None) -> tuple[str | None, str]:
    """A policy on a shared base (an ``adapters.AdapterHost``): the name of its adapter on the base
    (loaded once per base; None without one) and the policy's name (given, else the base folder's
    name, ``+`` the adapter folder's)."""
    adapter = base.adapter(adapter_path) if adapter_path else None
    default = f"{base.path.name}+{Path(adapter_path).name}" if adapter_path else base.path.name
    return adapter, name or default


def act_each(
    policy_name: str,
    requests: Sequence[ActRequest],
    prepare: Callable[[int, ActRequest], tuple[Hashable, T]],
    answer: Callable[[Hashable, list[T]], Sequence[ActResult]],
) -> list[ActResult]:
    """The act loop of a model backend. ``prepare(index, request) -> (group, prepared)`` readies one
    request; one that raises a ``REQUEST_ERRORS`` error gets the recorded error fallback (and a
    warning) and the others are still answered. ``answer(group, prepared)`` answers one group (e.g.
    one decoding setting) at once, in order. Results come back in the order of ``requests``."""
    results: list[ActResult | None] = [None] * len(requests)
    groups: dict[Hashable, list[tuple[int, T]]] = {}
    for i, request in enumerate(requests):
        try:
            group, prepared = prepare(i, request)
        except REQUEST_ERRORS as exc:
            log.warning("policy %s cannot answer request %s: %s", policy_name, i, exc)
            results[i] = error_result(request, str(exc))
            continue
        groups.setdefault(group, []).append((i, prepared))
    for group, items in groups.items():
        for (i, _), result in zip(items, answer(group, [p for _, p in items])):
            results[i] = result
    return [r for r in results if r is not None]


class DecodedImages:
    """Tangram images fetched from an image source and decoded once each (an ``LRUCache`` of
    ``max_items``). ``decode(png) -> value``. Tangram PNGs never change, so entries are never
    invalidated. ImageError names every missing image."""

    def __init__(self, source: ImageSource, decode: Callable[[bytes], Any], max_items: int):
        self._source = source
        self._decode = decode
        self._cache: LRUCache[str, Any] = LRUCache(max_items)

    def get(self, names: Sequence[str]) -> list:
        return self._cache.get_many(names, self._fetch)

    def _fetch(self, names: list[str]) -> list:
        found = self._source(names)
        missing = [n for n in names if not found.get(n)]
        if missing:
            raise ImageError(f"images missing from the library: {', '.join(missing[:10])}")
        decoded = []
        for n in names:
            try:
                decoded.append(self._decode(found[n]))
            except Exception as exc:
                raise ImageError(f"image {n} is not a readable picture ({short_error(exc)})") from exc
        return decoded
