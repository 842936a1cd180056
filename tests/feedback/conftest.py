"""Fixtures of the feedback tests: recorded games with turns written in listener letters, simulated
intents, rounds with deployments, and the tiny Idefics model (built once per session)."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from games.domain.rules import Lettering, apply_action, parse_action
from games.models import Interaction, SpeakerIntent
from games.selectors import get_context_spec
from games.services import lifecycle, play
from tests.factories import CheckpointFactory, DeploymentFactory, ParticipantFactory, RoundFactory, SystemFactory
from tests.games.play_support import dev_config


def lettering_of(config) -> Lettering:
    return Lettering(get_context_spec(config.pk).listener_order)


def target_letters(config) -> str:
    spec = get_context_spec(config.pk)
    return " ".join(sorted(Lettering(spec.listener_order).to_letters(spec.targets)))


def distractor_letters(config) -> list[str]:
    spec = get_context_spec(config.pk)
    lettering = Lettering(spec.listener_order)
    return sorted(set(lettering.to_letters(spec.images)) - set(lettering.to_letters(spec.targets)))


def record_game(deployment, turns, *, end: str | None = None, intents=None, config=None) -> Interaction:
    """A game of ``deployment`` with ``turns`` = [(utterance, action in the listener's letters)].

    ``intents``: {turn index: (feedback, previous action quality)} stored as SpeakerIntent rows."""
    config = config or dev_config()
    interaction = play.start_game(
        config=config, speaker=ParticipantFactory(), listener_kind="model", deployment=deployment,
        checkpoint=deployment.checkpoint if deployment is not None else None,
    )
    lettering = lettering_of(config)
    selection: frozenset[str] = frozenset()
    for index, (utterance, action_text) in enumerate(turns):
        action = lettering.to_images(parse_action(action_text))
        lifecycle.append_turn(
            interaction.pk, index=index, utterance=utterance, selection_before=selection, selected=action.select,
            deselected=action.deselect, action_source="model",
        )
        selection = apply_action(selection, action)
    for index, (feedback, quality) in (intents or {}).items():
        SpeakerIntent.objects.create(
            interaction=interaction, turn_index=index, feedback=feedback, previous_action_quality=quality,
            move="test",
        )
    if end:
        lifecycle.end_interaction(interaction.pk, end)
    return Interaction.objects.get(pk=interaction.pk)


@pytest.fixture
def closed_round(db):
    now = timezone.now()
    return RoundFactory(number=1, status="closed", opened_at=now, closed_at=now)


@pytest.fixture
def deploy(closed_round):
    """deploy(name, decoder, base_model=...) -> a Deployment of a new system in round 1."""

    def make(name: str, decoder: str, *, base_model: str = "models/none", objective: str | None = None):
        system = SystemFactory(name=name, decoder=decoder, objective=objective or ("none" if decoder == "none" else "sup"))
        checkpoint = CheckpointFactory(base_model=base_model)
        return DeploymentFactory(round=closed_round, system=system, checkpoint=checkpoint)

    return make


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("feedback-models") / "tiny"
    call_command("init_policy", "--tiny", "--out", str(path), "--seed", "0", stdout=io.StringIO())
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_path):
    """The tiny model as the prompted decoder gets it: through the port, from its own loaded base."""
    from training.feedback_model import IdeficsFeedbackModel
    from training.policies.hf_base import load_base

    return IdeficsFeedbackModel(load_base(tiny_path, device="cpu"))
