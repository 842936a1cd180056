"""The language-model port: what the prompted feedback decoder needs from a language model.

``feedback`` imports no app above it. Its prompted decoder runs on a frozen base language model (no
adapter: the same model whatever policies share it), which it reaches through a loader found through
``settings.FEEDBACK_LANGUAGE_MODEL`` (a dotted path, read with ``import_string``, the way Django finds
its cache or mail backend) — as ``games`` reaches bot policies through ``settings.BOT_BACKEND``. The
training app implements it on its shared Idefics base (``training.feedback_model``); unit tests may
point the setting at a small fake.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


class LanguageModelLoadError(RuntimeError):
    """A model folder that cannot be used as a language model (missing, corrupt, unsupported): one line."""


@dataclass(frozen=True)
class Generated:
    """One greedy answer: the generated text (through the first end token, special tokens kept) and
    how many tokens its prompt had."""

    text: str
    input_tokens: int


class FeedbackLanguageModel(Protocol):
    """A frozen base language model, loaded from ``path``."""

    path: Path
    context_length: int  # the most positions (prompt + answer) the model takes

    def chat_prompt(self, user_text: str) -> str:
        """The model's input text for one user message, with the generation prompt (its chat template)."""

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` is, as the model will read it."""

    def generate(self, prompts: Sequence[str], max_new_tokens: int) -> list[Generated]:
        """Greedy answers, one per prompt in order, at most ``max_new_tokens`` each, by the base model
        with no adapter active."""


def load_language_model(path: str | os.PathLike, *, device: str | None = None) -> FeedbackLanguageModel:
    """The model in folder ``path`` through the configured loader (``settings.FEEDBACK_LANGUAGE_MODEL``:
    a callable ``(path, *, device=None) -> FeedbackLanguageModel`` that may share one loaded copy per
    folder and process). ``LanguageModelLoadError`` for a folder it cannot use."""
    dotted = settings.FEEDBACK_LANGUAGE_MODEL
    try:
        loader = import_string(dotted)
    except ImportError as exc:
        raise ImproperlyConfigured(f"FEEDBACK_LANGUAGE_MODEL={dotted!r}: {exc}") from exc
    return loader(path, device=device)


__all__ = ["LanguageModelLoadError", "Generated", "FeedbackLanguageModel", "load_language_model"]
