"""Celery tasks of the training app (routed by name in respect_site/celery.py).

Inference workers run threads, so that a micro-batch can fill up:
``celery -A respect_site worker -Q inference --pool threads --concurrency 32`` (concurrency at
least ``INFERENCE_MAX_BATCH``); each task thread waits on the process's batcher.
"""
import logging
import threading

from celery import shared_task
from celery.signals import worker_ready

log = logging.getLogger(__name__)


@shared_task(name="training.tasks.act", acks_late=True, ignore_result=True)
def act(interaction_id: int, turn: int, attempt: int) -> None:
    """Answer one bot turn (``inference`` queue). Idempotent: a decided turn is left alone."""
    from training.services.inference import run_bot_turn

    run_bot_turn(interaction_id, turn, attempt, block=False, batched=True)


@shared_task(name="training.tasks.act_health")
def act_health() -> dict:
    """Readiness of the inference worker that answers (named ``act_*`` to share the ``inference``
    route): host, pid, the loaded models (one lane per base, with the checkpoints it served),
    queue depth and batch sizes."""
    from training.services.inference import service_status

    return service_status()


@worker_ready.connect
def _warm_up_inference(sender=None, **kwargs) -> None:
    """An inference worker loads the open rounds' models as it starts, in the background."""
    try:
        queues = sender.app.amqp.queues
        consumed = set(queues.consume_from or queues)
    except Exception:
        return
    if "inference" not in consumed:
        return

    def run() -> None:
        from django.db import close_old_connections

        from training.services.inference import warm_up

        try:
            names = warm_up()
            log.info("inference warm-up: loaded %s", ", ".join(names) or "nothing (no open model deployment)")
        except Exception:
            log.exception("inference warm-up failed")
        finally:
            close_old_connections()

    threading.Thread(target=run, name="inference-warm-up", daemon=True).start()


@shared_task(name="training.tasks.train_run", acks_late=True, ignore_result=True)
def train_run(run_id: int) -> None:
    """Train one TrainingRun (``training`` queue; run the worker with ``--concurrency 1``: one run per
    worker at a time). Idempotent: a run that succeeded, or that a live worker holds, is left alone; a
    failure is recorded on the run, not raised."""
    from training.models import TrainingRun
    from training.services.runs import execute_run

    try:
        execute_run(run_id)
    except TrainingRun.DoesNotExist:
        log.warning("training run %s does not exist (a stale message?): nothing to do", run_id)


@shared_task(name="training.tasks.export_study", acks_late=True, ignore_result=True)
def export_study(export_id: int) -> None:
    """Write one StudyExport (batch work: the default ``feedback`` queue). Idempotent: an export that is
    running or finished is left alone; a failure is recorded on the export, not raised."""
    from training.models import StudyExport
    from training.services.study_export import run_export

    try:
        run_export(export_id)
    except StudyExport.DoesNotExist:
        log.warning("study export %s does not exist (a stale message?): nothing to do", export_id)
    except Exception:
        log.exception("study export %s failed (recorded on the export)", export_id)
