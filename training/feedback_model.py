"""The training app's implementation of the feedback app's language-model port
(``feedback.language_model.FeedbackLanguageModel``): ``settings.FEEDBACK_LANGUAGE_MODEL`` names
``load_feedback_model``. The prompted feedback decoder runs on the shared Idefics base of a folder
(``training.policies.hf_base.shared_base``: the one loaded copy the policies on it use too), always with
no adapter active."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from feedback.language_model import Generated, LanguageModelLoadError
from training.policies.adapters import PolicyLoadError
from training.policies.hf_base import HFBase, shared_base


class IdeficsFeedbackModel:
    """A ``FeedbackLanguageModel`` on a loaded ``HFBase``: text only, greedy, the base alone."""

    def __init__(self, base: HFBase):
        self.base = base
        self.path: Path = base.path
        self.context_length = base.context_length()

    def chat_prompt(self, user_text: str) -> str:
        return self.base.prompt_text([{"role": "user", "content": [{"type": "text", "text": user_text}]}])

    def count_tokens(self, text: str) -> int:
        return len(self.base.tokenizer(text)["input_ids"])

    def generate(self, prompts: Sequence[str], max_new_tokens: int) -> list[Generated]:
        """Greedy, batched with left padding, under ``HFBase.active(None)`` (every loaded adapter
        disabled); each answer is cut after its first end token."""
        import torch

        tokenizer = self.base.tokenizer
        vocab = self.base.vocab
        ends = set(vocab.end_ids)
        with torch.inference_mode():
            encoded = tokenizer(list(prompts), padding=True, padding_side="left", return_tensors="pt")
            lengths = encoded["attention_mask"].sum(-1).tolist()
            inputs = {k: v.to(self.base.device) for k, v in encoded.items()}
            with self.base.active(None) as model:
                out = model.generate(
                    **inputs, do_sample=False, max_new_tokens=max_new_tokens,
                    eos_token_id=list(vocab.end_ids), pad_token_id=vocab.pad_id,
                )
        results = []
        for row, ids in enumerate(out[:, inputs["input_ids"].shape[1]:].tolist()):
            cut = next((k + 1 for k, t in enumerate(ids) if t in ends), len(ids))
            text = tokenizer.decode(ids[:cut], skip_special_tokens=False, clean_up_tokenization_spaces=False)
            results.append(Generated(text, int(lengths[row])))
        return results


def load_feedback_model(path: str | os.PathLike, *, device: str | None = None) -> IdeficsFeedbackModel:
    """The port's loader: the folder's shared Idefics base (one per folder and device in the process)."""
    try:
        return IdeficsFeedbackModel(shared_base(path, device=device))
    except PolicyLoadError as exc:
        raise LanguageModelLoadError(str(exc)) from exc


__all__ = ["IdeficsFeedbackModel", "load_feedback_model"]
