"""Model folders, the same way for every backend: checked loading (a bad folder fails at load time with
a one-line ``PolicyLoadError``), one loaded base per folder and process, and staged atomic saves."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from training.policies.adapters import PolicyLoadError
from training.policies.common import short_error

B = TypeVar("B")


# ----------------------------------------------------------------------------- loading


def require_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise PolicyLoadError(f"base model {folder}: folder does not exist")


def folder_model_type(path: str | os.PathLike) -> str | None:
    """The ``model_type`` of a saved model's ``config.json``, read without loading anything (None when
    there is no readable config)."""
    try:
        model_type = json.loads((Path(path) / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
    return model_type if isinstance(model_type, str) else None


def load_checked_weights(folder: Path, from_pretrained: Callable[..., Any], **kwargs: Any):
    """``from_pretrained(folder, ...)`` from local files only, refusing a partial checkpoint: weights
    that are missing or of the wrong shape would otherwise run as random layers."""
    try:
        model, info = from_pretrained(folder, local_files_only=True, output_loading_info=True, **kwargs)
    except Exception as exc:
        raise PolicyLoadError(f"base model {folder}: cannot load the weights ({short_error(exc)})") from exc
    broken = sorted(info.get("missing_keys", ())) + sorted(str(k) for k in info.get("mismatched_keys", ()))
    if broken:
        raise PolicyLoadError(f"base model {folder}: weights missing or mismatched: {', '.join(broken[:5])}")
    return model


class SharedBases(Generic[B]):
    """One loaded base per (folder, device) in this process, so every adapter on it shares its weights.
    ``load(path, device=...)`` loads one; a failed load is not remembered (the next call tries again)."""

    def __init__(self, load: Callable[..., B]):
        self._load = load
        self._bases: dict[tuple[str, str], B] = {}
        self._lock = threading.Lock()

    def get(self, path: str | os.PathLike, device: str) -> B:
        key = (os.path.realpath(path), device)
        with self._lock:
            if key not in self._bases:
                self._bases[key] = self._load(path, device=device)
            return self._bases[key]

    def clear(self) -> None:
        """Forget every loaded base (tests; a process that must reload changed folders)."""
        with self._lock:
            self._bases.clear()


# ----------------------------------------------------------------------------- saving


def check_output_folder(out: Path, overwrite: bool) -> None:
    """A model is only written into a missing or empty folder, unless ``overwrite``."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise FileExistsError(f"{out} exists and is not empty")


@contextlib.contextmanager
def staged_folder(out: Path, *, prefix: str = ".staging-") -> Iterator[Path]:
    """Write a model folder atomically: the body writes into a fresh temporary folder beside ``out``;
    when it returns, that folder replaces ``out`` by a rename; when it raises, the temporary folder is
    removed and ``out`` is left as it was. Nothing half-written ever sits at ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; workers of the same deployment read it
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


__all__ = ["require_folder", "folder_model_type", "load_checked_weights", "SharedBases", "check_output_folder",
           "staged_folder"]
