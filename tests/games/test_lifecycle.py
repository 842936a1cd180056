import pytest
from django.db import transaction

from games.models import GameConfig, Interaction, Round
from games.selectors import get_context_spec
from games.services.lifecycle import (
    TransitionError,
    TurnError,
    append_turn,
    append_turn_locked,
    end_interaction,
    start_interaction,
    transition_round,
)
from tests.factories import InteractionFactory, RoundFactory

pytestmark = pytest.mark.django_db


def test_round_walks_its_lifecycle_in_order():
    rnd = RoundFactory()
    for status in ["open", "closed", "decoded", "trained"]:
        rnd = transition_round(rnd.pk, status)
        assert rnd.status == status
    assert rnd.opened_at <= rnd.closed_at <= rnd.decoded_at <= rnd.trained_at
    with pytest.raises(TransitionError):
        transition_round(rnd.pk, "open")


@pytest.mark.parametrize("target", ["closed", "decoded", "trained", "draft", "bogus"])
def test_round_cannot_skip_steps(target):
    rnd = RoundFactory()
    with pytest.raises(TransitionError):
        transition_round(rnd.pk, target)
    assert Round.objects.get(pk=rnd.pk).status == "draft"


def test_round_transition_loses_a_race_cleanly(monkeypatch):
    rnd = RoundFactory()
    # Another process opens the round between our read and our write.
    stale = Round.objects.get(pk=rnd.pk)
    transition_round(rnd.pk, "open")
    monkeypatch.setattr(Round.objects, "get", lambda **kw: stale)
    with pytest.raises(TransitionError, match="concurrently"):
        transition_round(rnd.pk, "open")


@pytest.fixture
def game(config_library):
    config = GameConfig.objects.filter(split="dev").first()
    interaction = InteractionFactory(config=config)
    return start_interaction(interaction.pk), get_context_spec(config.pk)


def test_interaction_lifecycle(game):
    interaction, _ = game
    assert interaction.status == "playing" and interaction.started_at
    with pytest.raises(TransitionError):
        start_interaction(interaction.pk)
    with pytest.raises(TransitionError):
        end_interaction(interaction.pk, "nap_time")
    ended = end_interaction(interaction.pk, "speaker_idle")
    assert ended.status == "ended" and ended.end_reason == "speaker_idle" and ended.ended_at
    with pytest.raises(TransitionError):
        end_interaction(interaction.pk, "success")


def _append_to_locked_row(interaction_id, **fields):
    """What the live engine does: lock the game's row in its own transaction, then record the turn."""
    with transaction.atomic():
        return append_turn_locked(Interaction.objects.select_for_update().get(pk=interaction_id), **fields)


RECORDERS = [pytest.param(append_turn, id="append_turn"), pytest.param(_append_to_locked_row, id="locked")]


@pytest.mark.parametrize("append", RECORDERS)
def test_append_turn_records_consistent_turns(game, append):
    interaction, spec = game
    a, b, c = spec.images[:3]
    first = append(interaction.pk, index=0, utterance="the bird", selection_before=[],
                   selected=[b, a], deselected=[], action_source="human", listener_seconds=3.5)
    assert first.selection_after == sorted([a, b])
    second = append(interaction.pk, index=1, utterance="no, not that one", selection_before=[a, b],
                    selected=[c], deselected=[b], action_source="human")
    assert second.selection_after == sorted([a, c])
    assert Interaction.objects.get(pk=interaction.pk).turn_count == 2


@pytest.mark.django_db(transaction=True)
def test_append_turn_locked_refuses_to_run_outside_a_transaction(game):
    interaction, spec = game
    with pytest.raises(transaction.TransactionManagementError, match="transaction"):
        append_turn_locked(interaction, index=0, utterance="x", selection_before=[], selected=[spec.images[0]],
                           deselected=[], action_source="human")
    assert interaction.turns.count() == 0


@pytest.mark.parametrize("append", RECORDERS)
def test_append_turn_refuses_bad_turns_and_writes_nothing(game, append):
    interaction, spec = game
    a, b = spec.images[:2]
    outsider = "not-in-context"
    bad_calls = [
        dict(index=1, selection_before=[], selected=[a], deselected=[]),  # skips turn 0
        dict(index=0, selection_before=[a], selected=[b], deselected=[]),  # wrong before-state
        dict(index=0, selection_before=[], selected=[], deselected=[a]),  # deselects unselected
        dict(index=0, selection_before=[], selected=[outsider], deselected=[]),  # foreign image
        dict(index=0, selection_before=[], selected=[a], deselected=[a]),  # both ways at once
    ]
    for call in bad_calls:
        with pytest.raises(TurnError):
            append(interaction.pk, utterance="x", action_source="human", **call)
    with pytest.raises(TurnError):
        append(interaction.pk, index=0, utterance="   ", selection_before=[], selected=[a], deselected=[],
               action_source="human")
    assert interaction.turns.count() == 0
    assert Interaction.objects.get(pk=interaction.pk).turn_count == 0


def test_append_turn_needs_a_game_in_play(game):
    interaction, spec = game
    end_interaction(interaction.pk, "cancelled")
    with pytest.raises(TurnError, match="not playing"):
        append_turn(interaction.pk, index=0, utterance="x", selection_before=[], selected=[spec.images[0]],
                    deselected=[], action_source="human")
