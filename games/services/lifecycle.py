"""Status changes of rounds and interactions, and the one way to record a turn.

Transitions are compare-and-set updates (``UPDATE ... WHERE status = <expected>``): two processes
racing to move the same row cannot both succeed, and no step can be skipped.
"""
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from games.domain import rules
from games.models import Interaction, Round, Tangram, Turn


class TransitionError(Exception):
    """A status change that the lifecycle does not allow (or that lost a race)."""


class TurnError(ValueError):
    """A turn that cannot be recorded as given; nothing was written."""


def transition_round(round_id: int, to_status: str) -> Round:
    current = Round.objects.get(pk=round_id)
    if to_status not in Round.TRANSITIONS.get(current.status, ()):
        raise TransitionError(f"round {current.number}: cannot go from {current.status} to {to_status}")
    stamp = {Round.STATUS_TIMESTAMPS[to_status]: timezone.now()}
    updated = Round.objects.filter(pk=round_id, status=current.status).update(status=to_status, **stamp)
    if updated != 1:
        raise TransitionError(f"round {current.number} changed status concurrently; try again")
    return Round.objects.get(pk=round_id)


def start_interaction(interaction_id: int) -> Interaction:
    return _move_interaction(interaction_id, Interaction.Status.PLAYING, started_at=timezone.now())


def end_interaction(interaction_id: int, end_reason: str, *, at: datetime | None = None) -> Interaction:
    """End a game (the live engine's way to end one, under its row lock)."""
    if end_reason not in Interaction.EndReason.values:
        raise TransitionError(f"unknown end reason {end_reason!r}")
    return _move_interaction(
        interaction_id, Interaction.Status.ENDED, end_reason=end_reason, ended_at=at or timezone.now()
    )


def _move_interaction(interaction_id: int, to_status: str, **fields) -> Interaction:
    current = Interaction.objects.get(pk=interaction_id)
    if to_status not in Interaction.TRANSITIONS.get(current.status, ()):
        raise TransitionError(f"interaction {interaction_id}: cannot go from {current.status} to {to_status}")
    updated = Interaction.objects.filter(pk=interaction_id, status=current.status).update(status=to_status, **fields)
    if updated != 1:
        raise TransitionError(f"interaction {interaction_id} changed status concurrently; try again")
    return Interaction.objects.get(pk=interaction_id)


@transaction.atomic
def append_turn(interaction_id: int, **turn) -> Turn:
    """Record the next turn of a game in play, after checking it against the rules; ``turn`` are
    ``append_turn_locked``'s keyword arguments. Locks the game's row for the check and the write."""
    return append_turn_locked(Interaction.objects.select_for_update().get(pk=interaction_id), **turn)


def append_turn_locked(
    interaction: Interaction,
    *,
    index: int,
    utterance: str,
    selection_before: Iterable[str],
    selected: Iterable[str],
    deselected: Iterable[str],
    action_source: str,
    **details,
) -> Turn:
    """Record the next turn of ``interaction``, a game in play whose row the caller has locked
    (``select_for_update``) in the transaction it is in, as the live engine does to decide a turn
    (``append_turn`` locks it itself).

    The turn must be the next one, its toggles must be consistent with the stored selection, and
    every image must belong to the game's context. ``details`` are the optional Turn fields (raw
    output, probability, checkpoint, timings).
    """
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError(
            "append_turn_locked needs the caller's transaction holding the game's row lock"
        )
    interaction_id = interaction.pk
    if interaction.status != Interaction.Status.PLAYING:
        raise TurnError(f"interaction {interaction_id} is {interaction.status}, not playing")
    if index != interaction.turn_count:
        raise TurnError(f"expected turn {interaction.turn_count}, got {index}")
    if index >= rules.MAX_TURNS:
        raise TurnError(f"a game has at most {rules.MAX_TURNS} turns")
    if not utterance.strip():
        raise TurnError("the utterance is empty")
    before = frozenset(selection_before)
    expected_before = frozenset(_last_selection(interaction))
    if before != expected_before:
        raise TurnError("selection_before does not match the selection after the previous turn")
    context = set(
        Tangram.objects.filter(context_images__config_id=interaction.config_id).values_list("name", flat=True)
    )
    try:
        action = rules.Action(deselect=frozenset(deselected), select=frozenset(selected))
        outside = action.toggled - context
        if outside:
            raise TurnError(f"images not in this game's context: {', '.join(sorted(outside))}")
        after = rules.apply_action(before, action)
    except rules.RuleError as exc:
        raise TurnError(str(exc)) from None
    turn = Turn.objects.create(
        interaction=interaction,
        index=index,
        utterance=utterance,
        selection_before=sorted(before),
        selected=sorted(action.select),
        deselected=sorted(action.deselect),
        selection_after=sorted(after),
        action_source=action_source,
        **details,
    )
    Interaction.objects.filter(pk=interaction_id).update(turn_count=F("turn_count") + 1)
    return turn


def _last_selection(interaction: Interaction) -> list[str]:
    last = interaction.turns.order_by("-index").first()
    return last.selection_after if last else []
