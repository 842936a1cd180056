"""What both model backends (Idefics, compact listener) share: errors and the recorded error fallback."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from training.policies.base import ActRequest, ActResult

# Turn.action_probability sentinels (games.models.Turn; repeated here to keep the policies Django-free).
PROBABILITY_FALLBACK = -1.0
PROBABILITY_ERROR = -2.0
PROBABILITY_NOT_COMPUTED = -3.0
SOURCE_ERROR = "error"


class ImageError(LookupError):
    """Images missing from the library or not decodable."""


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


class DecodedImages:
    """Tangram images fetched from an image source and decoded once each (LRU, ``max_items``).

    ``source(names) -> {name: png bytes}`` (missing names absent); ``decode(png) -> value``. Tangram
    PNGs never change, so entries are never invalidated. ImageError names every missing image."""

    def __init__(self, source: Callable[[Sequence[str]], Mapping[str, bytes]], decode: Callable[[bytes], Any],
                 max_items: int):
        self._source = source
        self._decode = decode
        self._max_items = max_items
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, names: Sequence[str]) -> list:
        with self._lock:
            wanted = [n for n in dict.fromkeys(names) if n not in self._items]
            if wanted:
                found = self._source(wanted)
                missing = [n for n in wanted if not found.get(n)]
                if missing:
                    raise ImageError(f"images missing from the library: {', '.join(missing[:10])}")
                for n in wanted:
                    try:
                        self._items[n] = self._decode(found[n])
                    except Exception as exc:
                        raise ImageError(f"image {n} is not a readable picture ({short_error(exc)})") from exc
            for n in names:
                self._items.move_to_end(n)
            while len(self._items) > self._max_items:
                self._items.popitem(last=False)
            return [self._items[n] for n in names]
