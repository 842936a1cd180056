"""Celery tasks of the training app (routed by name in respect_site/celery.py)."""
from celery import shared_task


@shared_task(name="training.tasks.act", acks_late=True, ignore_result=True)
def act(interaction_id: int, turn: int, attempt: int) -> None:
    """Answer one bot turn (``inference`` queue). Idempotent: a decided turn is left alone."""
    from training.services.inference import run_bot_turn

    run_bot_turn(interaction_id, turn, attempt, block=False)
