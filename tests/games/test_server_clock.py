"""The web process's clock (games.clock) starts with the server, not with the first websocket: after a
restart, overdue games are swept and held bot answers delivered before anyone connects.

The Daphne test runs the real ASGI app in a forked process (as in tests/browser), so the database is
a temporary SQLite file for a session that includes this module.
"""
import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.db import database_sync_to_async
from django.utils import timezone

from games.models import Interaction
from games.services import play
from respect_site.asgi import application
from tests.games.play_support import install_library, start
from tests.live_server import daphne_server, use_a_file_test_database

pytestmark = [pytest.mark.django_db(transaction=True)]

use_a_file_test_database()


def overdue_games():
    """A game whose speaker's time ran out a minute ago, and a bot game whose answer was decided
    and held (its display time passed) when the server went down."""
    install_library()
    idle = start("oracle")
    past = timezone.now() - timedelta(seconds=60)
    Interaction.objects.filter(pk=idle.pk).update(phase_deadline=past)
    held = start("oracle")
    play.submit_utterance(held.pk, held.speaker_id, 0, "the one like a swan")  # the bot is held (held_bots)
    targets = sorted(held.config.context_images.filter(is_target=True).values_list("tangram__name", flat=True))
    play.hold_listener_action(held.pk, 0, play.ListenerAction(
        select=frozenset(targets), deselect=frozenset(), source="baseline", probability=1.0,
    ), show_at=past)
    return idle, held


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def ended(game) -> str:
    return Interaction.objects.get(pk=game.pk).end_reason


def test_daphne_starts_the_clock_with_the_server(django_db_blocker, held_bots):
    idle, held = overdue_games()
    assert not ended(idle) and not ended(held)
    server = daphne_server(django_db_blocker, GAME_CLOCK_IN_PROCESS=True, GAME_HEARTBEAT=True)
    next(server)  # the server runs; nobody connects
    try:
        assert wait_for(lambda: ended(idle) and ended(held), 15), "overdue games were not swept"
    finally:
        next(server, None)  # stops the server process
    assert ended(idle) == "speaker_idle"
    turn = Interaction.objects.get(pk=held.pk).turns.get()
    assert (turn.action_source, ended(held)) == ("baseline", "success")  # the held answer, shown at once
    assert held_bots == [(held.pk, 0, 1)]  # no retry was needed


@pytest.mark.asyncio
async def test_a_lifespan_server_starts_the_clock_at_startup_and_stops_it_at_shutdown(settings, held_bots):
    settings.GAME_CLOCK_IN_PROCESS = True
    idle, held = await database_sync_to_async(overdue_games)()
    assert not await database_sync_to_async(ended)(held)
    lifespan = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(timeout=3) == {"type": "lifespan.startup.complete"}
    try:
        deadline = time.monotonic() + 10
        while not (await database_sync_to_async(ended)(idle) and await database_sync_to_async(ended)(held)):
            assert time.monotonic() < deadline, "overdue games were not swept"
            await asyncio.sleep(0.1)
    finally:
        await lifespan.send_input({"type": "lifespan.shutdown"})
        assert await lifespan.receive_output(timeout=3) == {"type": "lifespan.shutdown.complete"}
    assert await database_sync_to_async(ended)(idle) == "speaker_idle"
    assert await database_sync_to_async(ended)(held) == "success"  # the held answer was delivered
