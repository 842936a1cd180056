"""Checks on policy checkpoints that can run before anything is loaded (e.g. at round launch)."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings

from training.models import PolicyCheckpoint


def resolve(path: str) -> Path:
    """Checkpoint paths are absolute or relative to DATA_DIR (e.g. ``models/tiny``)."""
    return Path(settings.DATA_DIR) / path


def checkpoint_problems(checkpoint: PolicyCheckpoint) -> list[str]:
    """What is missing on disk for this checkpoint to load; empty when it looks loadable."""
    problems = []
    base = resolve(checkpoint.base_model)
    if not (base / "config.json").is_file():
        problems.append(f"base model folder {base} has no config.json")
    if checkpoint.adapter_path:
        adapter = resolve(checkpoint.adapter_path)
        if not (adapter / "adapter_config.json").is_file():
            problems.append(f"adapter folder {adapter} has no adapter_config.json")
    return problems


def problems_of_checkpoint(checkpoint_id: int) -> list[str]:
    """``checkpoint_problems`` by id, prefixed with the checkpoint's name (as round launch reports them)."""
    checkpoint = PolicyCheckpoint.objects.filter(pk=checkpoint_id).first()
    if checkpoint is None:
        return [f"checkpoint {checkpoint_id} does not exist"]
    return [f"checkpoint {checkpoint.name}: {problem}" for problem in checkpoint_problems(checkpoint)]
