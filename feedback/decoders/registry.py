"""Decoders by name. Model-backed decoders get their language model through the language-model port
(``feedback.language_model.load_language_model``, implemented by the training app on its shared base:
one loaded copy per folder and process, shared with the policies on it)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from feedback.decoders.base import DecoderUnavailable, FeedbackDecoder
from feedback.domain.lexicon import LEXICON_VERSION
from feedback.domain.prompts import PROMPT_VERSION

LEXICON = "lexicon"
LEXICON_BINARY = "lexicon-binary"
BINARY = "binary"
TERNARY = "ternary"
DECODER_NAMES = (LEXICON, LEXICON_BINARY, BINARY, TERNARY)
PROMPTED = frozenset({BINARY, TERNARY})

# games.models.System.decoder -> decoder name ("none" decodes nothing).
SYSTEM_DECODERS = {"binary": BINARY, "ternary": TERNARY, "lexicon": LEXICON}

TINY_MARKER = "respect_tiny.json"  # written by training.policies.tiny.build_tiny
LANGUAGE_MODEL_TYPES = ("idefics2", "idefics3")  # what the language model of FEEDBACK_LANGUAGE_MODEL loads

# What a base model folder can do as a feedback decoder (base_model_kind).
KIND_LANGUAGE = "language"  # an Idefics-family model: the prompted decoder runs on it
KIND_TINY = "tiny"  # the platform's tiny Idefics model: runs, but its answers are meaningless
KIND_OTHER = "other"  # no language model (e.g. the compact toggle listener)
KIND_MISSING = "missing"  # no readable config.json


def current_version(name: str) -> str:
    """The version a decoder built now stamps on its labels."""
    check_name(name)
    return PROMPT_VERSION if name in PROMPTED else LEXICON_VERSION


def check_name(name: str) -> str:
    if name not in DECODER_NAMES:
        raise DecoderUnavailable(f"unknown decoder {name!r} (choose from {', '.join(DECODER_NAMES)})")
    return name


def base_model_kind(path: str | os.PathLike) -> str:
    """Whether the prompted decoder can run on a base model folder (read from its config, nothing loaded)."""
    folder = Path(path)
    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        return KIND_MISSING
    if model_type not in LANGUAGE_MODEL_TYPES:
        return KIND_OTHER
    return KIND_TINY if (folder / TINY_MARKER).is_file() else KIND_LANGUAGE


def build_decoder(
    name: str,
    *,
    base_path: str | os.PathLike | None = None,
    batch_size: int | None = None,
    max_input_tokens: int | None = None,
    device: str | None = None,
) -> FeedbackDecoder:
    check_name(name)
    if name in (LEXICON, LEXICON_BINARY):
        from feedback.decoders.lexicon import LexiconDecoder

        return LexiconDecoder(binary=name == LEXICON_BINARY)
    if base_path is None:
        raise DecoderUnavailable(f"the {name} decoder needs a base model folder")
    from feedback.decoders.prompted import DEFAULT_BATCH_SIZE, PromptedDecoder
    from feedback.language_model import LanguageModelLoadError, load_language_model

    try:
        model = load_language_model(base_path, device=device)
    except LanguageModelLoadError as exc:
        raise DecoderUnavailable(str(exc)) from exc
    return PromptedDecoder(
        model, binary=name == BINARY, batch_size=batch_size or DEFAULT_BATCH_SIZE, max_input_tokens=max_input_tokens
    )


__all__ = ["LEXICON", "LEXICON_BINARY", "BINARY", "TERNARY", "DECODER_NAMES", "PROMPTED", "SYSTEM_DECODERS",
           "LANGUAGE_MODEL_TYPES", "KIND_LANGUAGE", "KIND_TINY", "KIND_OTHER", "KIND_MISSING", "current_version",
           "check_name", "base_model_kind", "build_decoder"]
