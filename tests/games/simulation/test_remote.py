"""Simulated participants going through a running site like browsers: pages, lobby, websocket.

Daphne serves the real ASGI app in a forked process (as in tests/browser), so the database is a
temporary SQLite file for a session that includes this module.
"""

import pytest
from django.conf import settings

from games.models import Interaction, Participant, Round
from games.services.lifecycle import transition_round
from games.services.rounds import create_system, launch_round
from games.simulation.drivers.remote import RemoteError, run_remote_participants
from tests.games.play_support import install_library
from tests.live_server import daphne_server, use_a_file_test_database

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    # The server process here runs the embedded default (in-memory channel layer, bots in a thread);
    # real Redis + Celery over real websockets are covered by tests/integration/test_live_game.py.
    pytest.mark.skipif(bool(settings.REDIS_URL), reason="embedded default only (see tests/integration)"),
]
FAST = {"timing": {"bot_min_delay_seconds": 0}}


use_a_file_test_database()


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """Daphne serving respect_site.asgi in a forked process; yields its base URL."""
    yield from daphne_server(django_db_blocker)


def test_simulated_participants_play_through_the_site_as_speakers_and_listeners(server):
    """One server and one database for both rounds (the server process keeps its own connections)."""
    install_library()
    create_system("ORACLE", listener_kind="oracle")
    create_system("HH", listener_kind="human")

    # Against a bot: each participant speaks.
    first = launch_round(systems=[("ORACLE", None)], queue_size=5, split="train", seed=0, settings=FAST)
    results = run_remote_participants(server, count=2, seed=1, concurrency=2)
    assert [r.error for r in results] == [None, None]
    assert all(r.role == "speaker" and r.success and r.turns == 1 for r in results)
    assert Interaction.objects.filter(purpose="study", status="ended").count() == 2
    assert Interaction.objects.filter(purpose="practice", end_reason="success").count() == 2
    # The whole journey: consent, practice, lobby, game, survey, completion code.
    assert set(Participant.objects.values_list("stage", flat=True)) == {Participant.Stage.DONE}
    transition_round(first.pk, Round.Status.CLOSED)

    # Human-human: two simulated participants pair up, one speaks and one listens.
    launch_round(systems=[("HH", None)], queue_size=5, split="train", seed=0, settings=FAST)
    results = run_remote_participants(server, count=2, seed=2, concurrency=2)
    assert [r.error for r in results] == [None, None]
    assert sorted(r.role for r in results) == ["listener", "speaker"]
    assert results[0].interaction_id == results[1].interaction_id
    game = Interaction.objects.get(pk=results[0].interaction_id)
    assert game.status == "ended" and game.end_reason in ("success", "turn_limit")
    assert game.turns.count() == game.turn_count == results[0].turns
    assert results[0].success == game.succeeded == results[1].success


def test_a_bad_url_is_refused():
    with pytest.raises(RemoteError):
        run_remote_participants("ftp://nowhere", count=1)
    with pytest.raises(RemoteError):
        run_remote_participants("http://127.0.0.1:1", count=0)
