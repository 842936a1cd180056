"""The inference service: running one bot turn, through this process's micro-batcher.

Bot turns reach ``run_bot_turn`` from a Celery ``inference`` worker thread (``BOT_DISPATCH=celery``;
run the worker with ``--pool threads``), from the in-process thread pool (``thread``, the embedded
default) or inline (tests, simulations). With ``batched=True`` the policy call goes through the
process-wide ``MicroBatcher``: one thread per loaded base model answers the requests that arrive
within ``INFERENCE_BATCH_WINDOW_MS`` of each other (at most ``INFERENCE_MAX_BATCH``) with one
``policy.act`` call per checkpoint and decoding setting. Policies are loaded once per process
(``training.policies.registry``) and stay warm.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from games.models import Interaction, Turn
from games.selectors import open_model_checkpoint_ids
from games.services.play import (
    HELD_ANSWER_BACKUP_DELAY,
    ListenerAction,
    apply_listener_action,
    deliver_held_action,
    fallback_action,
    hold_listener_action,
)
from training.policies.registry import get_policy
from training.selectors import bot_request
from training.services.batching import Answer, MicroBatcher

log = logging.getLogger(__name__)

# How long a worker thread waits for its batch before giving up on the turn (the turn's own
# deadline then retries or records the fallback; a late answer is ignored).
WAIT_SECONDS = 60.0

_batcher: MicroBatcher | None = None
_batcher_lock = threading.Lock()


def batcher() -> MicroBatcher:
    """This process's micro-batcher (rebuilt if the batching settings changed, e.g. in tests)."""
    global _batcher
    window = settings.INFERENCE_BATCH_WINDOW_MS / 1000
    max_batch = settings.INFERENCE_MAX_BATCH
    with _batcher_lock:
        if _batcher is None or (_batcher.window, _batcher.max_batch) != (window, max_batch):
            old, _batcher = _batcher, MicroBatcher(window=window, max_batch=max_batch, after_batch=close_old_connections)
            if old is not None:
                old.close(timeout=0)
        return _batcher


def policy_answer(policy, request, *, batched: bool = True) -> Answer:
    """One request's answer: through the batcher, or by calling the policy here."""
    if batched:
        return batcher().act(policy, request, timeout=WAIT_SECONDS)
    started = time.monotonic()
    [result] = policy.act([request])
    return Answer(result=result, wait_seconds=0.0, compute_seconds=time.monotonic() - started, batch_size=1)


def run_bot_turn(
    interaction_id: int, turn: int, attempt: int, *, block: bool = True, batched: bool = False
) -> bool:
    """Answer ``turn`` of a bot game. Returns whether the action was applied (False when the turn
    was already decided, e.g. by a fallback after the deadline).

    ``batched``: ask the policy through this process's micro-batcher (worker threads), rather than
    directly (inline). Any failure — the request, the policy, a wait past ``WAIT_SECONDS`` — becomes
    the recorded error fallback. With ``block=False`` (worker threads and Celery workers) the minimum
    display delay does not hold the worker: the answer is stored on the game with its display time
    (``hold_listener_action``) and the worker is free for the next request at once; the speaker's
    socket shows it at that time, and a timer thread here a moment later should no socket have done
    so. If this process dies before the timer fires, the stored answer is delivered by the game
    clock's next sweep (within a second of a restart), not lost to the turn's retry.
    """
    started = time.monotonic()
    request = None
    try:
        request = bot_request(interaction_id, turn)
        policy = get_policy(request.listener_kind, request.checkpoint_id)
        answer = policy_answer(policy, request, batched=batched)
        result = answer.result
        if result.select & request.selection or not result.deselect <= request.selection:
            raise ValueError(f"{policy.name} returned toggles inconsistent with the selection")
        latency = time.monotonic() - started
        action = ListenerAction(
            select=result.select, deselect=result.deselect, source=result.source,
            raw_output=result.raw_output, probability=result.probability,
            checkpoint_id=request.checkpoint_id, latency_seconds=latency,
        )
        log.info(
            "bot turn %s/%s by %s: %.1f ms (queue %.1f ms, compute %.1f ms in a batch of %d)",
            interaction_id, turn, policy.name, latency * 1000, answer.wait_seconds * 1000,
            answer.compute_seconds * 1000, answer.batch_size,
        )
    except Interaction.DoesNotExist:
        return False
    except Exception:  # any failure becomes the recorded error fallback: games never hang
        log.exception("policy failed for interaction %s turn %s (attempt %s)", interaction_id, turn, attempt)
        try:
            interaction = Interaction.objects.get(pk=interaction_id)
        except Interaction.DoesNotExist:
            return False
        action = fallback_action(interaction, Turn.ActionSource.ERROR)
        action = ListenerAction(**{**action.__dict__, "latency_seconds": time.monotonic() - started})
    # Not shown before the game's display time (games.selectors.bot_answer_shown_at).
    if request is not None and request.show_at is not None:
        show_at = request.show_at
        remaining = (show_at - timezone.now()).total_seconds()
        if remaining > 0:
            if not block:
                if not hold_listener_action(interaction_id, turn, action, show_at):
                    return False  # the turn was decided meanwhile, or an answer is already held
                # The speaker's socket shows it at show_at; this timer is the backup where none did.
                backup_at = show_at + HELD_ANSWER_BACKUP_DELAY
                timer = threading.Timer(
                    remaining + HELD_ANSWER_BACKUP_DELAY.total_seconds(), _deliver_later,
                    args=(interaction_id, turn, backup_at),
                )
                timer.daemon = True
                timer.start()
                return True
            time.sleep(remaining)
    return apply_listener_action(interaction_id, turn, action)


def _deliver_later(interaction_id: int, turn: int, deliver_at: datetime) -> None:
    try:
        # The timer runs on the monotonic clock, the display time is on the wall clock: wait out any
        # difference, so the answer is delivered now and not left for the game clock's next sweep.
        early = (deliver_at - timezone.now()).total_seconds()
        if early > 0:
            time.sleep(early)
        deliver_held_action(interaction_id)
    except Exception:  # the stored answer stays: the game clock's next sweep delivers it
        log.exception("delayed bot action failed (interaction %s turn %s)", interaction_id, turn)
    finally:
        close_old_connections()


def service_status() -> dict:
    """Readiness of this process's inference service: the lanes (one per loaded base model) with
    the policies they answered for, queue depths and batch sizes so far."""
    status = batcher().status()
    return {"hostname": socket.gethostname(), "pid": os.getpid(), "time": time.time(), **status}


def warm_up() -> list[str]:
    """Load the policy of every model deployment of the open rounds (so the first turn does not
    wait for a model to load; a broken checkpoint shows up in the worker's log at start). Returns
    the names loaded."""
    loaded = []
    for checkpoint_id in open_model_checkpoint_ids():
        try:
            loaded.append(get_policy("model", checkpoint_id).name)
        except Exception:
            log.exception("warm-up: checkpoint %s does not load", checkpoint_id)
    return loaded
