"""The bot port: what the games app needs from whoever answers bot turns.

``games`` owns the live game and imports no other app. When a bot (a model policy or a baseline)
must act, or when a round is about to deploy a system, it talks to a ``BotBackend`` found through
``settings.BOT_BACKEND`` (a dotted path, read with ``import_string``, the way Django finds its
cache or mail backend). The training app implements it (``training.bot_backend``); tests point the
setting at a recording fake. The backend answers a turn by calling
``games.services.play.apply_listener_action`` (idempotent per turn), so a late or repeated answer
changes nothing.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class BotBackend(Protocol):
    def request_action(self, interaction_id: int, turn: int, attempt: int) -> None:
        """Ask for the bot listener's action for ``turn`` of a game (``attempt`` 1, then 2 for the one
        retry). Called after the transaction that opened the turn commits; must not raise for a
        failing policy (the answer is then the recorded error fallback) and may answer later."""

    def system_problems(self, hyperparameters: Mapping[str, Any] | None) -> list[str]:
        """What is wrong with a system's hyperparameters as bot turns read them (empty: fine)."""

    def checkpoint_problems(self, checkpoint_id: int) -> list[str]:
        """What would stop a deployment from answering with this policy checkpoint (missing files,
        unreadable model); empty when it can be deployed."""


def bot_backend() -> BotBackend:
    """The configured backend (``settings.BOT_BACKEND``), a fresh instance per call: cheap, and a
    test that overrides the setting gets its own backend at once."""
    return import_string(settings.BOT_BACKEND)()
