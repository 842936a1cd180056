"""What both model backends (Idefics, compact listener) share: errors and the recorded error fallback."""
from __future__ import annotations

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
