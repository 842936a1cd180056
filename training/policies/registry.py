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
        from training.models import PolicyCheckpoint

        if checkpoint_id is None:
            raise PolicyUnavailable("a model listener needs a policy checkpoint")
        checkpoint = PolicyCheckpoint.objects.filter(pk=checkpoint_id).first()
        if checkpoint is None:
            raise PolicyUnavailable(f"checkpoint {checkpoint_id} does not exist")
        return load_checkpoint_policy(checkpoint)
    raise PolicyUnavailable(f"no policy for listener kind {listener_kind!r}")


def load_checkpoint_policy(checkpoint):
    """The policy of a ``PolicyCheckpoint`` on the process's shared base model (not cached here)."""
    # Imported here: only inference workers pay for torch/transformers.
    from django.conf import settings

    from training.policies.compact_listener import ListenerPolicy, is_listener_folder, shared_listener_base
    from training.policies.hf import HFPolicy
    from training.policies.hf_base import PolicyLoadError, shared_base
    from training.selectors import tangram_pngs

    # Relative paths are under DATA_DIR (e.g. "models/tiny"); one loaded base per folder, shared by
    # every checkpoint (adapter) on it. The folder's config says which backend reads it: the compact
    # listener, or an Idefics-family model.
    base_path = settings.DATA_DIR / checkpoint.base_model
    adapter_path = settings.DATA_DIR / checkpoint.adapter_path if checkpoint.adapter_path else None
    try:
        if is_listener_folder(base_path):
            return ListenerPolicy(
                shared_listener_base(base_path), tangram_pngs, adapter_path=adapter_path, name=checkpoint.name,
            )
        return HFPolicy(shared_base(base_path), tangram_pngs, adapter_path=adapter_path, name=checkpoint.name)
    except PolicyLoadError as exc:
        raise PolicyUnavailable(f"checkpoint {checkpoint.name}: {exc}") from exc
