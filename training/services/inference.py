"""Running one bot turn: build the request, ask the policy, apply the action to the game."""
from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections
from django.utils import timezone

from games.models import Interaction, Turn
from games.selectors import bot_request
from games.services.play import ListenerAction, apply_listener_action, fallback_action
from training.policies.registry import get_policy

log = logging.getLogger(__name__)


def run_bot_turn(interaction_id: int, turn: int, attempt: int, *, block: bool = True) -> bool:
    """Answer ``turn`` of a bot game. Returns whether the action was applied (False when the turn
    was already decided, e.g. by a fallback after the deadline).

    With ``block=False`` (worker threads and Celery workers) the minimum display delay does not
    hold the worker: the answer is applied by a timer thread, and the worker is free for the next
    request at once. A lost timer is covered by the turn's deadline (retry, then fallback).
    """
    try:
        request = bot_request(interaction_id, turn)
    except Interaction.DoesNotExist:
        return False
    started = time.monotonic()
    try:
        policy = get_policy(request.listener_kind, request.checkpoint_id)
        result = policy.act([request])[0]
        if result.select & request.selection or not result.deselect <= request.selection:
            raise ValueError(f"{policy.name} returned toggles inconsistent with the selection")
        action = ListenerAction(
            select=result.select, deselect=result.deselect, source=result.source,
            raw_output=result.raw_output, probability=result.probability,
            checkpoint_id=request.checkpoint_id, latency_seconds=time.monotonic() - started,
        )
    except Exception:  # any policy failure becomes the recorded error fallback: games never hang
        log.exception("policy failed for interaction %s turn %s (attempt %s)", interaction_id, turn, attempt)
        interaction = Interaction.objects.get(pk=interaction_id)
        action = fallback_action(interaction, Turn.ActionSource.ERROR)
        action = ListenerAction(**{**action.__dict__, "latency_seconds": time.monotonic() - started})
    # Keep model turns from feeling instantaneous: not before min_delay after the message.
    if request.utterance_sent_at is not None and request.min_delay_seconds > 0:
        remaining = request.min_delay_seconds - (timezone.now() - request.utterance_sent_at).total_seconds()
        if remaining > 0:
            if not block:
                timer = threading.Timer(remaining, _apply_later, args=(interaction_id, turn, action))
                timer.daemon = True
                timer.start()
                return True
            time.sleep(remaining)
    return apply_listener_action(interaction_id, turn, action)


def _apply_later(interaction_id: int, turn: int, action: ListenerAction) -> None:
    try:
        apply_listener_action(interaction_id, turn, action)
    except Exception:
        log.exception("delayed bot action failed (interaction %s turn %s)", interaction_id, turn)
    finally:
        close_old_connections()
