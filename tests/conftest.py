"""Shared fixtures: small tangram and config libraries built by the real services."""
import os

import pytest
from django.conf import settings

from games.domain.splits import DEFAULT_FRACTIONS


def services_available() -> bool:
    """True when this run points at the real PostgreSQL and Redis (the services run)."""
    return bool(settings.REDIS_URL) and settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_collection_modifyitems(config, items):
    if services_available():
        return
    skip = pytest.mark.skip(reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL: run by the services pass")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def tangram_library(db):
    """40 generated tangrams: 10 dev, 15 train, 15 test."""
    from games.services.tangrams import generate_tangrams

    generate_tangrams(count=40, seed=7, fractions={"dev": 0.25, "train": 0.375, "test": 0.375})


@pytest.fixture
def config_library(tangram_library):
    from games.services.configs import generate_configs

    generate_configs(split="dev", count=5, seed=1)
    generate_configs(split="train", count=5, seed=1)


@pytest.fixture
def default_fractions():
    return dict(DEFAULT_FRACTIONS)


@pytest.fixture(autouse=True)
def _isolated_var_dir(settings, tmp_path):
    """Anything a test writes under the data or media folders goes to a temporary folder."""
    settings.DATA_DIR = tmp_path / "data"
    settings.MEDIA_ROOT = tmp_path / "media"
    # Tests drive deadlines themselves; a background sweep would outlive each test's event loop.
    settings.GAME_CLOCK_IN_PROCESS = False
    settings.GAME_HEARTBEAT = False
    # Tests create many participants from one address; the throttle's own test sets a limit.
    settings.PARTICIPANT_ENTRY_LIMIT = 0


def pytest_report_header(config):
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"respect: database={engine} channel_layer={layer} celery_eager={settings.CELERY_TASK_ALWAYS_EAGER} ci={os.environ.get('CI', '')}"


# Fixtures of the live-game tests (a fast config library, a controllable clock, a notification
# recorder), shared by every test module.
from tests.games.play_support import clock, game_library, held_bots, notifications  # noqa: E402,F401
