"""Prompt texts (pinned to the version) and left truncation that never cuts the instruction."""
import pytest

from feedback.domain import prompts
from feedback.domain.prompts import BINARY, ELLIPSIS, TERNARY, PromptTooLong, truncate_left


def test_prompt_texts_are_pinned_to_the_version():
    """Editing a prompt changes the labels: bump PROMPT_VERSION and update these pins together."""
    assert prompts.PROMPT_VERSION == "v1"
    assert (BINARY.fingerprint(), TERNARY.fingerprint()) == PINNED


PINNED = ("173b0d2f46761309", "b73b66d271f66a8d")


def test_binary_and_ternary_differ_in_question_answer_and_lean():
    assert "answer Negative" in BINARY.head and "answer Negative" not in TERNARY.head
    assert BINARY.tail.endswith("Positive or Negative.") and TERNARY.tail.endswith("Positive, Neutral or Negative.")
    for template in (BINARY, TERNARY):
        text = template.render("Speaker: hi")
        for cue in ("no, not, wrong, undo, don't", "yes, good, correct, okay", "next picture"):
            assert cue in text
        assert "Speaker: hi" in text


def words(text):
    return len(text.split())


def test_truncate_left_keeps_the_end_and_marks_the_cut():
    text = "Listener: select A\nSpeaker: one two three four\nListener: select B\nSpeaker: five six"
    assert truncate_left(text, lambda t: True) == (text, False)
    kept, cut = truncate_left(text, lambda t: words(t) <= 5)
    assert cut and kept.startswith(ELLIPSIS + " ") and text.endswith(kept[2:])
    assert words(kept) == 5  # the longest tail that fits (the ellipsis counts as a word)
    assert kept.endswith("Speaker: five six")


def test_truncate_left_cuts_into_the_last_message_only_when_it_must():
    kept, cut = truncate_left("Speaker: a b c d e", lambda t: words(t) <= 3)
    assert (kept, cut) == (ELLIPSIS + " d e", True)
    assert truncate_left("a b", lambda t: t == ELLIPSIS) == (ELLIPSIS, True)


def test_truncate_left_refuses_when_even_the_instruction_does_not_fit():
    with pytest.raises(PromptTooLong):
        truncate_left("a b c", lambda t: False)


def test_truncate_left_uses_few_probes():
    calls = []

    def fits(t):
        calls.append(t)
        return words(t) <= 10

    truncate_left(" ".join(str(i) for i in range(1000)), fits)
    assert len(calls) <= 15
