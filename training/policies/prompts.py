"""The listener's chat prompt (pure; no Django, no torch).

Message layout follows the original study (original-system.md §2.1):

1. ``system``: the ten images in the listener's order, each followed by its letter (``<image>A<image>B ...``);
2. per past turn: ``system`` with the selection before the turn (``none is selected`` / ``A D F currently
   selected``), ``user`` with the speaker's words, ``assistant`` with the action text;
3. the current turn's ``system`` selection line and ``user`` utterance; the chat template adds the
   generation prompt (``Assistant:``).

Messages use the Hugging Face multimodal chat format (``{"type": "image"}`` / ``{"type": "text"}``), so
any Idefics processor's own chat template renders them. ``CHAT_TEMPLATE`` is ours (used by the tiny
model) and renders exactly the Idefics2 layout.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from games.domain.rules import LETTERS, Action, Lettering, format_action
from training.policies.base import ActRequest

NONE_SELECTED = "none is selected"
CURRENTLY_SELECTED = "currently selected"

# Idefics2 layout: "Role:" before an image, "Role: " before text, "<end_of_utterance>\n" after each
# message, "Assistant:" as generation prompt. The rendered prompt has no leading/trailing whitespace
# (the original .strip()s it), so the completion is " select F<end_of_utterance>".
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for item in message['content'] %}"
    "{% if item['type'] == 'text' %}{{ item['text'] }}{% elif item['type'] == 'image' %}{{ '<image>' }}{% endif %}"
    "{% endfor %}"
    "<end_of_utterance>"
    "{% if not loop.last or add_generation_prompt %}{{ '\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

Message = dict  # {"role": str, "content": [{"type": "image"} | {"type": "text", "text": str}]}


@dataclass(frozen=True)
class LetteredTurn:
    """One past turn in model space: letters instead of image ids."""

    selection_before: frozenset[str]
    utterance: str
    action: Action


def selection_line(letters: Collection[str]) -> str:
    """The state line: ``none is selected`` or ``A D F currently selected`` (sorted)."""
    if not letters:
        return NONE_SELECTED
    return " ".join(sorted(letters)) + " " + CURRENTLY_SELECTED


# Tag-like text a tokenizer would read as a special token (<image>, <end_of_utterance>, </s>, ...).
_TAG = re.compile(r"<(/?[^<>\s]{1,40})>")


def clean_utterance(text: str) -> str:
    """Speaker text made safe for the prompt.

    Whitespace runs (newlines included) become one space, so a message cannot forge extra turns, and
    tag-like text gets look-alike brackets, so ``<image>`` typed by a person is not an image slot.
    """
    text = " ".join(str(text).split())
    return _TAG.sub(lambda m: f"\u2039{m.group(1)}\u203a", text)


def _text(value: str) -> list[dict]:
    return [{"type": "text", "text": value}]


def build_messages(
    num_images: int,
    history: Sequence[LetteredTurn],
    selection: Collection[str],
    utterance: str,
    *,
    action: Action | None = None,
) -> list[Message]:
    """The chat for one decision. With ``action`` the answer is appended as the last assistant message
    (training text); without it, the chat ends with the current user message (generation)."""
    if not 1 <= num_images <= len(LETTERS):
        raise ValueError(f"need 1-{len(LETTERS)} images, got {num_images}")
    context: list[dict] = []
    for letter in LETTERS[:num_images]:
        context += [{"type": "image"}, {"type": "text", "text": letter}]
    messages: list[Message] = [{"role": "system", "content": context}]
    for turn in history:
        messages += [
            {"role": "system", "content": _text(selection_line(turn.selection_before))},
            {"role": "user", "content": _text(clean_utterance(turn.utterance))},
            {"role": "assistant", "content": _text(format_action(turn.action))},
        ]
    messages += [
        {"role": "system", "content": _text(selection_line(selection))},
        {"role": "user", "content": _text(clean_utterance(utterance))},
    ]
    if action is not None:
        messages.append({"role": "assistant", "content": _text(format_action(action))})
    return messages


def lettered_history(request: ActRequest) -> tuple[Lettering, tuple[LetteredTurn, ...], frozenset[str]]:
    """The request's history and selection in letters of the listener's order (RuleError if an image
    is not in the context)."""
    lettering = Lettering(request.listener_order)
    turns = tuple(
        LetteredTurn(
            selection_before=lettering.to_letters(t.selection_before),
            utterance=t.utterance,
            action=Action(deselect=lettering.to_letters(t.deselect), select=lettering.to_letters(t.select)),
        )
        for t in request.history
    )
    return lettering, turns, lettering.to_letters(request.selection)


def request_messages(request: ActRequest, *, action: Action | None = None) -> list[Message]:
    """Messages for an ActRequest; ``action`` (image ids) appends the answer for teacher forcing."""
    lettering, turns, selection = lettered_history(request)
    lettered_action = lettering.to_letters(action) if action is not None else None
    return build_messages(len(lettering.order), turns, selection, request.utterance, action=lettered_action)


__all__ = [
    "NONE_SELECTED", "CURRENTLY_SELECTED", "CHAT_TEMPLATE", "LetteredTurn", "selection_line",
    "clean_utterance", "build_messages", "lettered_history", "request_messages",
]
