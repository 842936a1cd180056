"""Mapping a prompted decoder's raw output to a label: robust, never raises, unknown -> unparsed."""
import pytest

from feedback.domain.labels import NEGATIVE, NEUTRAL, POSITIVE, UNPARSED
from feedback.domain.mapping import map_output

P, U, N, X = POSITIVE, NEUTRAL, NEGATIVE, UNPARSED


@pytest.mark.parametrize("raw, binary, expected", [
    (" Positive.<end_of_utterance>", True, P),
    (" Negative.<end_of_utterance>", True, N),
    (" Neutral<end_of_utterance>", False, U),
    ("Positive", True, P), ("positive", True, P), ("POSITIVE!!", True, P), ("  negative  ", True, N),
    ("\nPositive.\n", True, P), ("Positive.</s>", True, P), ("<s> Negative", True, N),
    ("Assistant: Positive.", True, P), ("User: is it good?\nAssistant: Negative", True, N),
    ("The answer is Positive.", True, P), ("It is negative feedback", True, N), ("Answer: Neutral", False, U),
    ("Positively.", True, P), ("Neutr", False, U), ("Negat", True, N), ("Pos", True, P), ("neg.", True, N),
    ("Positive positive", True, P), ("**Negative**", True, N), ("'Positive'", True, P), ("positive:)", True, P),
    ("Neutral", True, X),  # a binary decoder never says neutral
    ("Positive or Negative", True, X), ("Positive, Neutral or Negative", False, X), ("positive negative", True, X),
    ("not positive", True, X), ("Not negative.", True, X), ("non-negative", True, X), ("isn't positive", True, X),
    ("", True, X), ("   ", True, X), ("<end_of_utterance>", True, X), ("Yes", True, X), ("No", True, X),
    ("good", True, X), ("po", True, X), ("select A", True, X), ("0", True, X), ("+1", True, X), ("???", True, X),
    ("Positiv\u00e9", True, P), ("x" * 100_000, True, X), ("\x00\x01", True, X),
])
def test_output_mapping(raw, binary, expected):
    label, reason = map_output(raw, binary=binary)
    assert label == expected
    assert bool(reason) == (label == UNPARSED)


@pytest.mark.parametrize("raw", [None, 1, b"Positive", ["Positive"], {"a": 1}])
def test_non_text_is_unparsed(raw):
    assert map_output(raw, binary=True) == (UNPARSED, f"output is not text ({type(raw).__name__})")
