"""The lexicon decoder: phrase rules over the speaker's next message (see feedback.domain.lexicon)."""
from __future__ import annotations

from collections.abc import Sequence

from feedback.decoders.base import FeedbackDecoder
from feedback.domain.labels import DecodedLabel
from feedback.domain.lexicon import LEXICON_VERSION, classify
from feedback.domain.windows import FeedbackWindow


class LexiconDecoder(FeedbackDecoder):
    """Fast, CPU-only, transparent: the raw output is the rule trace (which rule fired on which cues)."""

    def __init__(self, *, binary: bool = False, version: str = LEXICON_VERSION):
        self.binary = binary
        self.name = "lexicon-binary" if binary else "lexicon"
        self.prompt_version = version

    def decode(self, windows: Sequence[FeedbackWindow]) -> list[DecodedLabel]:
        labels = []
        for window in windows:
            result = classify(window.next_utterance, window.utterance, binary=self.binary)
            labels.append(DecodedLabel(result.label, result.trace(), {"rule": result.rule}))
        return labels


__all__ = ["LexiconDecoder"]
