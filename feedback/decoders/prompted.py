"""The study's decoder: the frozen base model (no adapter) reads a text-only window and answers
Positive / Negative (binary) or Positive / Neutral / Negative (ternary).

* Text only: no images, the conversation is the window of ``feedback.domain.windows`` written as
  ``Speaker:`` / ``Listener:`` lines with the listener's own action text.
* The base model alone: generation runs under ``HFBase.active(None)``, which disables every loaded
  adapter, so the decoder is the same frozen model whatever policies share the base.
* Greedy decoding, a few new tokens, batched with left padding.
* The input is truncated from the left *inside the conversation only*: the instruction and the
  question are never cut, and the speaker's last message (the feedback itself) is the last to go.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from feedback.decoders.base import DecoderUnavailable, FeedbackDecoder
from feedback.domain.labels import DecodedLabel
from feedback.domain.mapping import map_output
from feedback.domain.prompts import ELLIPSIS, PROMPT_VERSION, TEMPLATES, PromptTemplate, PromptTooLong, truncate_left
from feedback.domain.windows import FeedbackWindow, conversation_lines

if TYPE_CHECKING:
    from training.policies.hf import HFBase

DEFAULT_MAX_INPUT_TOKENS = 1024
DEFAULT_MAX_NEW_TOKENS = 5  # "Positive." plus the end token, with room for a leading space
DEFAULT_BATCH_SIZE = 16


def context_limit(base: HFBase) -> int:
    """The most positions the base's language model takes."""
    config = base.model.config
    for part in (getattr(config, "text_config", None), config):
        n = getattr(part, "max_position_embeddings", None)
        if isinstance(n, int) and n > 0:
            return n
    n = getattr(base.tokenizer, "model_max_length", 0)
    return n if 0 < n < 10**7 else 4096


class PromptedDecoder(FeedbackDecoder):
    def __init__(
        self,
        base: HFBase,
        *,
        binary: bool,
        max_input_tokens: int | None = None,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        prompt_version: str = PROMPT_VERSION,
        template: PromptTemplate | None = None,
    ):
        if max_new_tokens < 1 or batch_size < 1:
            raise ValueError("max_new_tokens and batch_size must be positive")
        self.base = base
        self.binary = binary
        self.name = "binary" if binary else "ternary"
        self.prompt_version = prompt_version
        self.template = template or TEMPLATES[self.name]
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        limit = context_limit(base) - max_new_tokens
        self.max_input_tokens = min(max_input_tokens or DEFAULT_MAX_INPUT_TOKENS, limit)
        if not self._fits(ELLIPSIS):
            raise DecoderUnavailable(
                f"{self.name} decoder: the instruction does not fit {self.max_input_tokens} input tokens "
                f"of {base.path}"
            )

    # -- prompts ---------------------------------------------------------------------------------

    def _render(self, conversation: str) -> str:
        message = {"role": "user", "content": [{"type": "text", "text": self.template.render(conversation)}]}
        return self.base.prompt_text([message])

    def _count(self, text: str) -> int:
        return len(self.base.tokenizer(text)["input_ids"])

    def _fits(self, conversation: str) -> bool:
        return self._count(self._render(conversation)) <= self.max_input_tokens

    def prompt(self, window: FeedbackWindow) -> tuple[str, bool]:
        """(model input text, whether the conversation was truncated)."""
        conversation = "\n".join(conversation_lines(window))
        try:
            kept, truncated = truncate_left(conversation, self._fits)
        except PromptTooLong as exc:  # checked at construction; kept for safety
            raise DecoderUnavailable(str(exc)) from exc
        return self._render(kept), truncated

    # -- decoding --------------------------------------------------------------------------------

    def decode(self, windows: Sequence[FeedbackWindow]) -> list[DecodedLabel]:
        prompts = [self.prompt(w) for w in windows]
        # Similar lengths together: less padding. Results go back in input order.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i][0]))
        raw: dict[int, tuple[str, int]] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start: start + self.batch_size]
            for i, out in zip(chunk, self._generate([prompts[i][0] for i in chunk])):
                raw[i] = out
        labels = []
        for i, (text, truncated) in enumerate(prompts):
            output, input_tokens = raw[i]
            label, reason = map_output(output, binary=self.binary)
            details = {"truncated": truncated, "input_tokens": input_tokens, "model": self.base.path.name}
            if reason:
                details["reason"] = reason
            labels.append(DecodedLabel(label, output, details))
        return labels

    def _generate(self, texts: list[str]) -> list[tuple[str, int]]:
        import torch

        tokenizer = self.base.tokenizer
        vocab = self.base.vocab
        ends = set(vocab.end_ids)
        with torch.inference_mode():
            encoded = tokenizer(texts, padding=True, padding_side="left", return_tensors="pt")
            lengths = encoded["attention_mask"].sum(-1).tolist()
            inputs = {k: v.to(self.base.device) for k, v in encoded.items()}
            with self.base.active(None) as model:
                out = model.generate(
                    **inputs, do_sample=False, max_new_tokens=self.max_new_tokens,
                    eos_token_id=list(vocab.end_ids), pad_token_id=vocab.pad_id,
                )
        results = []
        for row, ids in enumerate(out[:, inputs["input_ids"].shape[1]:].tolist()):
            cut = next((k + 1 for k, t in enumerate(ids) if t in ends), len(ids))
            text = tokenizer.decode(ids[:cut], skip_special_tokens=False, clean_up_tokenization_spaces=False)
            results.append((text, int(lengths[row])))
        return results


__all__ = ["PromptedDecoder", "context_limit", "DEFAULT_MAX_INPUT_TOKENS", "DEFAULT_MAX_NEW_TOKENS",
           "DEFAULT_BATCH_SIZE"]
