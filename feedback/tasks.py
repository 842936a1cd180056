"""Celery tasks of the feedback app (the ``feedback`` queue; routed by name in respect_site/celery.py)."""
from celery import shared_task


@shared_task(name="feedback.tasks.decode_round", acks_late=True)
def decode_round(
    round_id: int, system_id: int | None = None, decoder_name: str | None = None, final_turn_outcome: bool = False,
    mark_decoded: bool = False,
) -> dict:
    """Decode a round's feedback (idempotent: safe to re-deliver). Takes ids; returns the report."""
    from feedback.services.decoding import decode_round as run
    from games.selectors import round_and_system_names

    round_number, system_name = round_and_system_names(round_id, system_id)
    return run(
        round_number, system_name=system_name, decoder_name=decoder_name, final_turn_outcome=final_turn_outcome,
        mark_decoded=mark_decoded,
    ).to_dict()
