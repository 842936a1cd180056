"""Database constraints hold whatever code writes the rows (PostgreSQL and SQLite alike)."""
import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from games.models import AppendOnlyError, ContextImage, GameConfig, Interaction, Round, System, Turn
from tests.factories import InteractionFactory, ParticipantFactory, RoundFactory, SystemFactory

pytestmark = pytest.mark.django_db


def _refused(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


@pytest.fixture
def config(config_library):
    return GameConfig.objects.filter(split="dev").first()


@pytest.fixture
def playing(config):
    return InteractionFactory(config=config, status=Interaction.Status.PLAYING, started_at=timezone.now())


def _turn(interaction, index=0, **fields):
    values = dict(
        interaction=interaction, index=index, utterance="the bird", action_source=Turn.ActionSource.HUMAN
    )
    values.update(fields)
    return Turn.objects.create(**values)


def test_turn_index_is_unique_per_interaction(playing):
    _turn(playing, 0)
    _refused(lambda: _turn(playing, 0))
    _turn(playing, 1)  # the next index is fine
    assert playing.turns.count() == 2


def test_turn_index_and_probability_ranges(playing):
    _refused(lambda: _turn(playing, 10))
    _refused(lambda: _turn(playing, 0, action_probability=1.5))
    _refused(lambda: _turn(playing, 0, action_probability=-0.5))
    _refused(lambda: _turn(playing, 0, speaker_seconds=-1))
    _refused(lambda: _turn(playing, 0, action_source="telepathy"))
    for i, sentinel in enumerate(Turn.PROBABILITY_SENTINELS):
        _turn(playing, i, action_probability=sentinel, action_source=Turn.ActionSource.FALLBACK)
    _turn(playing, 3, action_probability=0.25, action_source=Turn.ActionSource.MODEL)


def test_turns_are_append_only(playing):
    turn = _turn(playing, 0)
    turn.utterance = "changed"
    with pytest.raises(AppendOnlyError):
        turn.save()
    with pytest.raises(AppendOnlyError):
        turn.delete()
    with pytest.raises(AppendOnlyError):
        Turn.objects.filter(pk=turn.pk).update(utterance="changed")
    with pytest.raises(AppendOnlyError):
        Turn.objects.filter(pk=turn.pk).delete()
    assert Turn.objects.get(pk=turn.pk).utterance == "the bird"


def test_round_status_requires_its_timestamps():
    _refused(lambda: Round.objects.create(number=1, status=Round.Status.OPEN))
    now = timezone.now()
    _refused(lambda: Round.objects.create(number=1, status=Round.Status.CLOSED, opened_at=now))
    _refused(lambda: Round.objects.create(number=1, status="archived"))
    Round.objects.create(number=1, status=Round.Status.CLOSED, opened_at=now, closed_at=now)
    _refused(lambda: Round.objects.create(number=1))  # unique number


def test_interaction_end_state_is_consistent(config):
    now = timezone.now()
    _refused(lambda: InteractionFactory(config=config, status=Interaction.Status.ENDED))  # no reason, no time
    _refused(lambda: InteractionFactory(config=config, end_reason=Interaction.EndReason.SUCCESS))  # not ended
    _refused(lambda: InteractionFactory(config=config, status=Interaction.Status.PLAYING))  # never started
    _refused(
        lambda: InteractionFactory(
            config=config, status="ended", ended_at=now, started_at=now, end_reason="turn_limit", turn_count=4
        )
    )
    _refused(lambda: InteractionFactory(config=config, turn_count=11))
    InteractionFactory(
        config=config, status="ended", ended_at=now, started_at=now, end_reason="turn_limit", turn_count=10
    )


def test_interaction_players_must_differ(config):
    person = ParticipantFactory()
    _refused(lambda: InteractionFactory(config=config, speaker=person, listener=person))
    InteractionFactory(config=config, speaker=person, listener=ParticipantFactory())


def test_config_constraints(config):
    _refused(lambda: GameConfig.objects.create(name="bad", split="dev", origin="generated", num_targets=6))
    _refused(lambda: GameConfig.objects.create(name="bad", split="moon", origin="generated", num_targets=3))
    image = config.context_images.first()
    other = GameConfig.objects.create(name="other", split="dev", origin="generated", num_targets=3)
    ContextImage.objects.create(
        config=other, tangram=image.tangram, index=0, is_target=True, speaker_position=0, listener_position=0
    )
    # Same tangram twice, same slot twice, position out of range: all refused.
    _refused(lambda: ContextImage.objects.create(
        config=other, tangram=image.tangram, index=1, is_target=True, speaker_position=1, listener_position=1))
    second = config.context_images.all()[1].tangram
    _refused(lambda: ContextImage.objects.create(
        config=other, tangram=second, index=1, is_target=True, speaker_position=0, listener_position=1))
    _refused(lambda: ContextImage.objects.create(
        config=other, tangram=second, index=1, is_target=True, speaker_position=10, listener_position=1))


def test_system_objective_needs_a_decoder():
    _refused(lambda: System.objects.create(name="X", decoder="none", objective="sup"))
    _refused(lambda: SystemFactory(listener_kind="psychic"))
    System.objects.create(name="CONTROL", decoder="none", objective="none")


def test_deployment_is_unique_per_round_and_system():
    from tests.factories import DeploymentFactory

    first = DeploymentFactory()
    _refused(lambda: DeploymentFactory(round=first.round, system=first.system))
    DeploymentFactory(round=first.round, system=SystemFactory())
    assert RoundFactory().deployments.count() == 0
