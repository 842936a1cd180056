"""The feedback decoder interface."""
from __future__ import annotations

import abc
from collections.abc import Sequence

from feedback.domain.labels import DecodedLabel
from feedback.domain.windows import FeedbackWindow


class DecoderUnavailable(RuntimeError):
    """A decoder that cannot be built here (unknown name, missing or unusable model)."""


class FeedbackDecoder(abc.ABC):
    """Decodes a batch of windows into labels, one per window, in order.

    ``name`` and ``prompt_version`` are stored on every label, so that labels of different decoders
    and versions never mix. A ``binary`` decoder never says neutral. ``decode`` never raises on odd
    text: what it cannot read becomes ``unparsed``.
    """

    name: str
    prompt_version: str
    binary: bool

    @abc.abstractmethod
    def decode(self, windows: Sequence[FeedbackWindow]) -> list[DecodedLabel]:
        ...

    def describe(self) -> str:
        kind = "binary" if self.binary else "ternary"
        return f"{self.name} (version {self.prompt_version}, {kind})"


__all__ = ["DecoderUnavailable", "FeedbackDecoder"]
