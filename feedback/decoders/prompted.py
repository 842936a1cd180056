"""The study's decoder: the frozen base model (no adapter) reads a text-only window and answers
Positive / Negative (binary) or Positive / Neutral / Negative (ternary).

* Text only: no images, the conversation is the window of ``feedback.domain.windows`` written as
  ``Speaker:`` / ``Listener:`` lines with the listener's own action text.
* The base model alone: the model comes through the language-model port
  (``feedback.language_model``), whose ``generate`` runs the base with no adapter active, so the
  decoder is the same frozen model whatever policies share the base.
* Greedy decoding, a few new tokens, in batches of similar prompt lengths.
* The input is truncated from the left *inside the conversation only*: the instruction and the
  question are never cut, and the speaker's last message (the feedback itself) is the last to go.
"""
from __future__ import annotations

from collections.abc import Sequence

from feedback.decoders.base import DecoderUnavailable, FeedbackDecoder
from feedback.domain.labels import DecodedLabel
from feedback.domain.mapping import map_output
from feedback.domain.prompts import ELLIPSIS, PROMPT_VERSION, TEMPLATES, PromptTemplate, PromptTooLong, truncate_left
from feedback.domain.windows import FeedbackWindow, conversation_lines
from feedback.language_model import FeedbackLanguageModel, Generated

DEFAULT_MAX_INPUT_TOKENS = 1024
DEFAULT_MAX_NEW_TOKENS = 5  # "Positive." plus the end token, with room for a leading space
DEFAULT_BATCH_SIZE = 16


class PromptedDecoder(FeedbackDecoder):
    def __init__(
        self,
        model: FeedbackLanguageModel,
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
        self.model = model
        self.binary = binary
        self.name = "binary" if binary else "ternary"
        self.prompt_version = prompt_version
        self.template = template or TEMPLATES[self.name]
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        limit = model.context_length - max_new_tokens
        self.max_input_tokens = min(max_input_tokens or DEFAULT_MAX_INPUT_TOKENS, limit)
        if not self._fits(ELLIPSIS):
            raise DecoderUnavailable(
                f"{self.name} decoder: the instruction does not fit {self.max_input_tokens} input tokens "
                f"of {model.path}"
            )

    # -- prompts ---------------------------------------------------------------------------------

    def _render(self, conversation: str) -> str:
        return self.model.chat_prompt(self.template.render(conversation))

    def _count(self, text: str) -> int:
        return self.model.count_tokens(text)

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
        raw: dict[int, Generated] = {}
        for start in range(0, len(order), self.batch_size):
            chunk = order[start: start + self.batch_size]
            for i, out in zip(chunk, self.model.generate([prompts[i][0] for i in chunk], self.max_new_tokens)):
                raw[i] = out
        labels = []
        for i, (text, truncated) in enumerate(prompts):
            output = raw[i].text
            label, reason = map_output(output, binary=self.binary)
            details = {"truncated": truncated, "input_tokens": raw[i].input_tokens, "model": self.model.path.name}
            if reason:
                details["reason"] = reason
            labels.append(DecodedLabel(label, output, details))
        return labels


__all__ = ["PromptedDecoder", "DEFAULT_MAX_INPUT_TOKENS", "DEFAULT_MAX_NEW_TOKENS", "DEFAULT_BATCH_SIZE"]
