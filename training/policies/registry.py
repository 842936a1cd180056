"""Which policy answers for a game: baselines by kind, models by checkpoint (kept warm)."""
from __future__ import annotations

import threading

from training.policies.baselines import OraclePolicy, RandomPolicy


class PolicyUnavailable(Exception):
    """No policy can be loaded for this request (missing checkpoint, no model backend)."""


_cache: dict[tuple[str, int | None], object] = {}
_lock = threading.Lock()


def get_policy(listener_kind: str, checkpoint_id: int | None):
    key = (listener_kind, checkpoint_id)
    with _lock:
        if key not in _cache:
            _cache[key] = _load(listener_kind, checkpoint_id)
        return _cache[key]


def _load(listener_kind: str, checkpoint_id: int | None):
    if listener_kind == "oracle":
        return OraclePolicy()
    if listener_kind == "random":
        return RandomPolicy()
    if listener_kind == "model":
        raise PolicyUnavailable(
            f"checkpoint {checkpoint_id}: the vision-language model backend is not installed yet"
        )
    raise PolicyUnavailable(f"no policy for listener kind {listener_kind!r}")
