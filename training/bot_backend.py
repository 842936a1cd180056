"""The training app's implementation of the games app's bot port (``games.bots.BotBackend``):
``settings.BOT_BACKEND`` names ``TrainingBotBackend``."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from training.dispatch import request_bot_action
from training.learning.settings import RetrainSettings
from training.policies.base import decoding_from_hyperparameters


class TrainingBotBackend:
    def request_action(self, interaction_id: int, turn: int, attempt: int) -> None:
        request_bot_action(interaction_id, turn, attempt)

    def system_problems(self, hyperparameters: Mapping[str, Any] | None) -> list[str]:
        """The decoding settings bot turns read, and the training settings the learning loop reads."""
        try:
            decoding_from_hyperparameters(hyperparameters)
            RetrainSettings.from_dict((hyperparameters or {}).get("training"))
        except ValueError as exc:  # RetrainError is a ValueError too
            return [str(exc)]
        return []

    def checkpoint_problems(self, checkpoint_id: int) -> list[str]:
        from training.services.checkpoints import problems_of_checkpoint

        return problems_of_checkpoint(checkpoint_id)
