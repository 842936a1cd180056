"""Handing a bot turn to an inference worker.

``BOT_DISPATCH`` chooses how: ``celery`` (the ``inference`` queue; production), ``thread`` (an
in-process worker thread; the embedded default, so that the server's event loop never waits for
a model) or ``inline`` (in the caller; tests and simulations). ``celery`` and ``thread`` both go
through the process's micro-batcher (``training.services.inference``); the thread pool has as many
threads as a batch holds, since each one mostly waits for its batch.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)
_executor: ThreadPoolExecutor | None = None


def request_bot_action(interaction_id: int, turn: int, attempt: int) -> None:
    mode = settings.BOT_DISPATCH
    if mode == "celery":
        from training.tasks import act

        act.apply_async(args=(interaction_id, turn, attempt))
    elif mode == "inline":
        from training.services.inference import run_bot_turn

        run_bot_turn(interaction_id, turn, attempt)
    elif mode == "thread":
        _thread_pool().submit(_run_in_thread, interaction_id, turn, attempt)
    else:
        raise ValueError(f"unknown BOT_DISPATCH {mode!r}")


def _thread_pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=max(2, settings.INFERENCE_MAX_BATCH), thread_name_prefix="inference")
    return _executor


def _run_in_thread(interaction_id: int, turn: int, attempt: int) -> None:
    from training.services.inference import run_bot_turn

    try:
        run_bot_turn(interaction_id, turn, attempt, block=False, batched=True)
    except Exception:
        log.exception("in-process bot turn failed (interaction %s turn %s)", interaction_id, turn)
    finally:
        close_old_connections()
