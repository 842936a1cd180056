"""The textual action grammar, word by word (pure; no Django, no torch).

A well-formed action the listener can write is ``deselect L+ [select L+] | select L+`` where the
letters ascend within a part, every deselected letter is selected now and no selected letter is
selected again (``games.domain.rules.format_action`` writes exactly these). These functions say
whether a text is such an action, or can still grow into one; a model backend uses them to constrain
generation token by token (``training.policies.hf.ActionGrammarProcessor``).
"""
from __future__ import annotations

from collections.abc import Sequence

from games.domain.rules import LETTERS

VERBS = ("select", "deselect")


def grammar_state(words: Sequence[str], selected: frozenset[str]) -> tuple[frozenset[str], bool] | None:
    """Walk complete words of ``deselect L+ [select L+] | select L+`` where letters ascend within a
    part, deselected letters are selected and selected letters are not. Returns (words allowed next,
    whether the words so far form a complete action), or None when the words are already invalid."""
    unselected = frozenset(LETTERS) - selected
    part: str | None = None
    seen_select = False
    last = ""
    for word in words:
        if word in VERBS:
            if word == "deselect" and (part is not None or not selected):
                return None
            if word == "select" and (seen_select or (part is not None and not last) or not unselected):
                return None
            part, last, seen_select = word, "", seen_select or word == "select"
        elif part is not None and len(word) == 1 and word > last and word in (
            selected if part == "deselect" else unselected
        ):
            last = word
        else:
            return None
    if part is None:
        verbs = {"deselect"} if selected else set()
        return frozenset(verbs | ({"select"} if unselected else set())), False
    pool = selected if part == "deselect" else unselected
    allowed = {x for x in pool if x > last}
    if last and part == "deselect" and unselected:
        allowed.add("select")
    return frozenset(allowed), bool(last)


def grammar_prefix_ok(text: str, selected: frozenset[str]) -> bool:
    """Whether ``text`` can still grow into a well-formed, consistent action."""
    words = text.split()
    partial = bool(text) and not text[-1].isspace() and bool(words)
    done, tail = (words[:-1], words[-1]) if partial else (words, "")
    state = grammar_state(done, selected)
    if state is None:
        return False
    allowed, _ = state
    return not tail or any(w.startswith(tail) for w in allowed)


def grammar_complete(text: str, selected: frozenset[str]) -> bool:
    """Whether ``text`` is a complete well-formed action consistent with ``selected``."""
    state = grammar_state(text.split(), selected)
    return state is not None and state[1]


__all__ = ["VERBS", "grammar_state", "grammar_prefix_ok", "grammar_complete"]
