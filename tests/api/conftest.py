"""Fixtures of the API tests: a small study (two rounds, games with turns, labels, a training run, an
annotation campaign), users in every role, and clients signed in as each."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from feedback.models import FeedbackLabel
from feedback.services.annotation import create_campaign
from games.models import Participant
from tests.factories import CheckpointFactory, DeploymentFactory, RoundFactory, SystemFactory
from tests.feedback.conftest import record_game
from training.models import TrainingRun

ROLES = ("anonymous", "participant", "annotator", "staff", "token")


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache, which outlives a test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def study(game_library):
    """Round 1 (closed: B-SUP and CONTROL, two ended games each, labels, a run, a campaign) and round 2 (open)."""
    now = timezone.now()
    round1 = RoundFactory(number=1, status="closed", opened_at=now, closed_at=now)
    round2 = RoundFactory(number=2, status="open", opened_at=now)
    bsup, control = SystemFactory(name="B-SUP"), SystemFactory(name="CONTROL", decoder="none", objective="none")
    initial = CheckpointFactory(name="seed")
    deployments = {
        "B-SUP": DeploymentFactory(round=round1, system=bsup, checkpoint=initial),
        "CONTROL": DeploymentFactory(round=round1, system=control, checkpoint=initial),
    }
    games = [
        record_game(deployments[name], [("the bird on the left", "select A"), ("no, the fish", "deselect A select B")],
                    end="speaker_idle")
        for name in ("B-SUP", "B-SUP", "CONTROL", "CONTROL")
    ]
    trained = CheckpointFactory(name="b-sup-r1", round=round1, system=bsup, parent=initial, objective="sup")
    DeploymentFactory(round=round2, system=bsup, checkpoint=trained)
    run = TrainingRun.objects.create(system=bsup, round=round1, objective="sup", initial_checkpoint=initial,
                                     status="succeeded", progress=1.0, checkpoint=trained)
    for game in games:
        first = game.turns.get(index=0)
        FeedbackLabel.objects.create(turn=first, decoder="lexicon", prompt_version="v1", label="negative")
        FeedbackLabel.objects.create(turn=first, decoder="binary", prompt_version="v1", label="negative")
    campaign = create_campaign(name="pilot", sample_size=4, round_numbers=[1], annotators_per_turn=1, seed=3)
    return {"rounds": (round1, round2), "systems": (bsup, control), "games": games, "run": run,
            "checkpoints": (initial, trained), "campaign": campaign}


@pytest.fixture
def users(db):
    staff = User.objects.create_user("researcher", is_staff=True)
    scripted = User.objects.create_user("script", is_staff=True)
    annotator = User.objects.create_user("anna", is_staff=True)
    second = User.objects.create_user("bert", is_staff=True)
    group, _ = Group.objects.get_or_create(name="annotator")
    annotator.groups.add(group)
    second.groups.add(group)
    return {"staff": staff, "token": scripted, "annotator": annotator, "second_annotator": second,
            "token_key": Token.objects.create(user=scripted).key}


@pytest.fixture
def client_for(users, client):
    """client_for(role) -> an APIClient acting in that role (the participant's holds a real study session)."""

    def make(role: str) -> APIClient:
        api = APIClient()
        if role == "participant":
            response = api.get(reverse("play:entry") + "?workerId=WORKER1RAW&assignmentId=ASSIGN1&hitId=H1")
            assert response.status_code == 302 and Participant.objects.filter(pk=api.session["participant_id"]).exists()
        elif role == "token":
            api.credentials(HTTP_AUTHORIZATION=f"Token {users['token_key']}")
        elif role in ("staff", "annotator", "second_annotator"):
            api.force_login(users[role])
        else:
            assert role == "anonymous", role
        return api

    return make
