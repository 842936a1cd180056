"""Bot turns answered by the training app (the games app's bot port, ``training.bot_backend``):
policies through the inference service, failures as the recorded error fallback, the minimum
display delay, late answers ignored."""
import time

import pytest

from games.services import play
from tests.factories import CheckpointFactory
from tests.games.play_support import fresh, listener_first_image, start
from training.policies.base import ActResult
from training.services import inference
from training.services.inference import run_bot_turn

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _inline_bots(settings, game_library, notifications):
    settings.BOT_DISPATCH = "inline"


def speak(game, turn, text="the tall one with a hat"):
    return play.submit_utterance(game.pk, game.speaker_id, turn, text)


def test_a_late_worker_answer_for_a_decided_turn_is_ignored(clock, held_bots, django_capture_on_commit_callbacks):
    game = start("oracle", checkpoint=CheckpointFactory())
    speak(game, 0)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            play.enforce_deadline(game.pk, now=fresh(game).phase_deadline)
    assert fresh(game).turns.get().action_source == "timeout"
    assert run_bot_turn(game.pk, 0, 1) is False
    assert fresh(game).turns.count() == 1


def test_a_policy_that_raises_becomes_the_error_fallback(monkeypatch, django_capture_on_commit_callbacks):
    class Broken:
        name = "broken"

        def act(self, requests):
            raise RuntimeError("out of GPU memory")

    monkeypatch.setattr(inference, "get_policy", lambda kind, checkpoint: Broken())
    game = start("random")
    with django_capture_on_commit_callbacks(execute=True):
        speak(game, 0)
    game = fresh(game)
    [turn] = game.turns.all()
    first = listener_first_image(game)
    assert (turn.action_source, turn.action_probability) == ("error", -2.0)
    assert (turn.selected, turn.deselected) == ([first], [])
    assert turn.model_latency_seconds is not None
    assert (game.status, game.phase, game.turn_count) == ("playing", "speaker", 1)


def test_a_policy_answer_inconsistent_with_the_selection_becomes_the_error_fallback(
    monkeypatch, django_capture_on_commit_callbacks
):
    class Confused:
        name = "confused"

        def act(self, requests):  # deselects an image that is not selected
            return [ActResult(select=frozenset(), deselect=frozenset(r.listener_order[:1]), raw_output="deselect A",
                              probability=0.5, source="model") for r in requests]

    monkeypatch.setattr(inference, "get_policy", lambda kind, checkpoint: Confused())
    game = start("random")
    with django_capture_on_commit_callbacks(execute=True):
        speak(game, 0)
    turn = fresh(game).turns.get()
    assert (turn.action_source, turn.action_probability, turn.selected) == ("error", -2.0, [listener_first_image(game)])


def test_the_random_bot_records_its_probability(django_capture_on_commit_callbacks):
    game = start("random")
    with django_capture_on_commit_callbacks(execute=True):
        speak(game, 0)
    turn = fresh(game).turns.get()
    toggled = len(turn.selected) + len(turn.deselected)
    assert turn.action_source == "baseline" and toggled in (1, 2)
    assert turn.action_probability == pytest.approx(1 / 20 if toggled == 1 else 1 / 90)
    assert turn.selection_before == [] and turn.selection_after == sorted(turn.selected)


def test_the_bot_answer_is_not_shown_before_the_minimum_display_delay(django_capture_on_commit_callbacks):
    game = start("oracle", settings={"timing": {"bot_min_delay_seconds": 0.3}})
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        speak(game, 0)
    elapsed = time.monotonic() - started
    turn = fresh(game).turns.get()
    assert elapsed >= 0.3 and turn.listener_seconds >= 0.3
    assert turn.model_latency_seconds < 0.3  # the policy itself was quick: the wait was the delay
    # Without the delay the same game is answered well inside it.
    quick = start("oracle")
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        speak(quick, 0)
    assert time.monotonic() - started < 0.3 and fresh(quick).end_reason == "success"


def test_run_bot_turn_for_a_missing_game_does_nothing():
    assert run_bot_turn(999_999, 0, 1) is False
