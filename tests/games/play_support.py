"""Helpers shared by the live-game tests (engine, journey, consumers): games, players, a clock."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from games.models import ContextImage, GameConfig, Interaction, Participant, Tangram, Turn
from games.services import play
from tests.factories import ParticipantFactory

# Bots answer at once unless a test asks for the display delay.
NO_DELAY = {"timing": {"bot_min_delay_seconds": 0}}


_LIBRARY: dict[str, list] = {}


def _snapshot_library() -> None:
    """Build the ``config_library`` contents once with the real services and remember the rows."""
    from games.services.configs import generate_configs
    from games.services.tangrams import generate_tangrams

    generate_tangrams(count=40, seed=7, fractions={"dev": 0.25, "train": 0.375, "test": 0.375})
    generate_configs(split="dev", count=5, seed=1)
    generate_configs(split="train", count=5, seed=1)
    _LIBRARY["tangrams"] = list(Tangram.objects.values(*[f.attname for f in Tangram._meta.fields if f.name != "id"]))
    _LIBRARY["configs"] = list(
        GameConfig.objects.values(*[f.attname for f in GameConfig._meta.fields if f.name != "id"])
    )
    _LIBRARY["images"] = list(
        ContextImage.objects.values(
            "config__name", "tangram__name", "index", "is_target", "speaker_position", "listener_position"
        )
    )


def install_library() -> None:
    """The same tangrams and configs as the ``config_library`` fixture, without re-rendering them
    for every test (rendering 40 figures costs most of a second)."""
    if not _LIBRARY:
        _snapshot_library()
        return
    tangrams = {t.name: t for t in Tangram.objects.bulk_create(Tangram(**row) for row in _LIBRARY["tangrams"])}
    configs = {c.name: c for c in GameConfig.objects.bulk_create(GameConfig(**row) for row in _LIBRARY["configs"])}
    if any(t.pk is None for t in tangrams.values()) or any(c.pk is None for c in configs.values()):
        tangrams = {t.name: t for t in Tangram.objects.all()}
        configs = {c.name: c for c in GameConfig.objects.all()}
    ContextImage.objects.bulk_create(
        ContextImage(
            config=configs[row["config__name"]], tangram=tangrams[row["tangram__name"]], index=row["index"],
            is_target=row["is_target"], speaker_position=row["speaker_position"],
            listener_position=row["listener_position"],
        )
        for row in _LIBRARY["images"]
    )


@pytest.fixture
def game_library(db):
    """40 tangrams (10 dev, 15 train, 15 test), 5 dev and 5 train configs."""
    install_library()


class Clock:
    """A stand-in for ``django.utils.timezone.now`` that only moves when told to."""

    def __init__(self, start):
        self.current = start

    def __call__(self):
        return self.current

    def advance(self, seconds: float):
        self.current += timedelta(seconds=seconds)
        return self.current


@pytest.fixture
def clock(monkeypatch):
    fake = Clock(timezone.now())
    monkeypatch.setattr(timezone, "now", fake)
    return fake


@pytest.fixture
def notifications(monkeypatch):
    """Record the games the engine tells browsers about (after commit) instead of sending."""
    sent: list[int] = []
    monkeypatch.setattr(play, "notify_interaction", lambda pk, version=None: sent.append(pk))
    return sent


def dev_config() -> GameConfig:
    return GameConfig.objects.filter(split="dev").order_by("name").first()


def person(**fields) -> Participant:
    return ParticipantFactory(**fields)


def start(listener_kind="oracle", *, settings=None, human_listener=False, config=None, **kwargs) -> Interaction:
    listener = person(stage=Participant.Stage.GAME) if (human_listener or listener_kind == "human") else None
    return play.start_game(
        config=config or dev_config(),
        speaker=kwargs.pop("speaker", None) or person(stage=Participant.Stage.GAME),
        listener=listener,
        listener_kind=listener_kind,
        settings=NO_DELAY if settings is None else settings,
        **kwargs,
    )


def targets_of(interaction: Interaction) -> list[str]:
    return sorted(
        interaction.config.context_images.filter(is_target=True).values_list("tangram__name", flat=True)
    )


def distractors_of(interaction: Interaction) -> list[str]:
    return sorted(
        interaction.config.context_images.filter(is_target=False).values_list("tangram__name", flat=True)
    )


def listener_first_image(interaction: Interaction) -> str:
    return interaction.config.context_images.order_by("listener_position").first().tangram.name


def snapshot(interaction_id: int) -> tuple[dict, int]:
    """Everything a refused move must leave alone: the game row and its turns."""
    row = Interaction.objects.filter(pk=interaction_id).values().get()
    return row, Turn.objects.filter(interaction_id=interaction_id).count()


def fresh(interaction: Interaction) -> Interaction:
    return Interaction.objects.get(pk=interaction.pk)


class RecordingBotBackend:
    """A bot backend (``games.bots.BotBackend``) that answers nothing: it records the requests, like
    an inference worker that is slow or gone. Point ``settings.BOT_BACKEND`` at it (``held_bots``)."""

    requests: list[tuple[int, int, int]] = []
    problems: list[str] = []

    def request_action(self, interaction_id: int, turn: int, attempt: int) -> None:
        self.requests.append((interaction_id, turn, attempt))

    def system_problems(self, hyperparameters) -> list[str]:
        return list(self.problems)

    def checkpoint_problems(self, checkpoint_id: int) -> list[str]:
        return list(self.problems)


@pytest.fixture
def held_bots(settings):
    """Bot requests are held (recorded, never answered); returns the list they are recorded in."""
    RecordingBotBackend.requests = []
    RecordingBotBackend.problems = []
    settings.BOT_BACKEND = f"{__name__}.RecordingBotBackend"
    return RecordingBotBackend.requests
