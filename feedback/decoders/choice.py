"""Which decoder decodes a deployment's turns (reads settings; no models)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from feedback.decoders.base import DecoderUnavailable
from feedback.decoders.registry import (
    KIND_LANGUAGE, KIND_MISSING, KIND_OTHER, KIND_TINY, PROMPTED, SYSTEM_DECODERS, base_model_kind, check_name,
    current_version,
)


class DecodeError(ValueError):
    """Bad input (no such round or system, unusable decoder): nothing was written."""


@dataclass(frozen=True)
class DecoderChoice:
    """The decoder a deployment's turns are decoded with, and why."""

    name: str | None  # None: the system decodes nothing
    base_path: Path | None  # for prompted decoders
    note: str = ""  # e.g. why the system's prompted decoder was replaced

    @property
    def version(self) -> str | None:
        return current_version(self.name) if self.name else None


def resolve_path(path: str) -> Path:
    """Checkpoint paths are absolute or relative to DATA_DIR (e.g. ``models/tiny``)."""
    return Path(settings.DATA_DIR) / path


def choose_decoder(system_decoder: str, base_model: str | None, *, override: str | None = None) -> DecoderChoice:
    """Which decoder decodes a deployment.

    * ``override`` (a decoder name) wins, and is never replaced: a prompted override needs a base model
      the prompted decoder can run on (DecodeError otherwise).
    * Otherwise the system's decoder (``none`` -> nothing). A prompted system decoder runs on its
      checkpoint's base model when that is a real language model; with no language model to run on
      (no checkpoint, the compact listener, or the platform's tiny model unless
      ``FEEDBACK_PROMPTED_ON_TINY``) it is replaced by ``FEEDBACK_DEFAULT_DECODER`` (the lexicon by
      default), and the choice says so.
    """
    if override is not None:
        name = _checked(override)
    elif system_decoder == "none":
        return DecoderChoice(None, None)
    elif system_decoder in SYSTEM_DECODERS:
        name = SYSTEM_DECODERS[system_decoder]
    else:
        raise DecodeError(f"unknown system decoder {system_decoder!r}")
    if name not in PROMPTED:
        return DecoderChoice(name, None)
    path = resolve_path(base_model) if base_model else None
    kind = base_model_kind(path) if path is not None else KIND_MISSING
    usable = kind == KIND_LANGUAGE or (kind == KIND_TINY and (override is not None or settings.FEEDBACK_PROMPTED_ON_TINY))
    if usable:
        return DecoderChoice(name, path)
    why = {
        KIND_MISSING: "no base model" + (f" at {path}" if path is not None else " (no checkpoint)"),
        KIND_OTHER: f"{path} is not a language model",
        KIND_TINY: f"{path} is the tiny test model",
    }[kind]
    if override is not None:
        raise DecodeError(f"the {name} decoder cannot run: {why}")
    fallback = _checked(settings.FEEDBACK_DEFAULT_DECODER)
    if fallback in PROMPTED:
        raise DecodeError(f"the {name} decoder cannot run ({why}) and FEEDBACK_DEFAULT_DECODER is {fallback}")
    return DecoderChoice(fallback, None, note=f"{name} replaced by {fallback}: {why}")


def _checked(name: str) -> str:
    try:
        return check_name(name)
    except DecoderUnavailable as exc:
        raise DecodeError(str(exc)) from None


__all__ = ["DecodeError", "DecoderChoice", "resolve_path", "choose_decoder"]
