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


class _LostTimer:
    """A ``threading.Timer`` that never fires: the process died before the display delay was over."""

    made: list = []

    def __init__(self, interval, function, args=()):
        self.made.append((interval, function, args))
        self.daemon = True

    def start(self):
        pass


def test_a_bot_answer_held_for_its_display_time_survives_a_crash(
    clock, held_bots, monkeypatch, django_capture_on_commit_callbacks
):
    _LostTimer.made = []
    # A worker decided the answer, then died before showing it (its timer is lost). The answer was
    # stored with its display time: the next sweep after a restart delivers it, no retry needed.
    monkeypatch.setattr(inference.threading, "Timer", _LostTimer)
    game = start("oracle", settings={"timing": {"bot_min_delay_seconds": 2}})
    with django_capture_on_commit_callbacks(execute=True):
        speak(game, 0)
    assert held_bots == [(game.pk, 0, 1)]
    assert run_bot_turn(game.pk, 0, 1, block=False) is True
    assert fresh(game).turns.count() == 0 and fresh(game).phase == "listener"
    clock.advance(1)
    assert play.expire_overdue() == 0  # not before its display time
    clock.advance(1.5)  # the restarted server's first sweep
    with django_capture_on_commit_callbacks(execute=True):
        assert play.expire_overdue() == 1
    game = fresh(game)
    turn = game.turns.get()
    assert (turn.action_source, turn.action_probability) == ("baseline", 1.0)  # the oracle's answer, not a fallback
    assert game.end_reason == "success" and held_bots == [(game.pk, 0, 1)]  # no retry was asked for
    assert play.expire_overdue() == 0 and play.deliver_held_action(game.pk) is False  # delivered once


def test_a_held_answer_is_delivered_by_its_timer_when_its_display_time_comes(
    clock, held_bots, monkeypatch, django_capture_on_commit_callbacks
):
    _LostTimer.made = []
    monkeypatch.setattr(inference.threading, "Timer", _LostTimer)
    monkeypatch.setattr(inference, "close_old_connections", lambda: None)  # the test's connection stays
    game = start("oracle", settings={"timing": {"bot_min_delay_seconds": 2}})
    with django_capture_on_commit_callbacks(execute=True):
        speak(game, 0)
    assert run_bot_turn(game.pk, 0, 1, block=False) is True  # returns at once: the worker is free
    [(interval, deliver, args)] = _LostTimer.made
    assert 2.25 <= interval < 2.35  # the backup: a moment after the display time, when no socket showed it
    assert run_bot_turn(game.pk, 0, 2, block=False) is False  # an answer is held already: nothing changes
    assert len(_LostTimer.made) == 1
    deliver(*args)  # too early (a timer that fires early): nothing is shown yet
    assert fresh(game).turns.count() == 0
    clock.advance(interval)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(*args)
    turn = fresh(game).turns.get()
    assert turn.listener_seconds >= 2 and turn.action_source == "baseline"
