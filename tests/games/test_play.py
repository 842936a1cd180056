"""The live game engine (games.services.play) and the bot turn service, without websockets."""
from datetime import timedelta

import pytest
from django.utils import timezone

from games.models import Interaction, Participant, ServerHeartbeat, Tangram, Turn
from games.services import play, uptime
from games.services.play import ListenerAction, PlayError
from tests.factories import CheckpointFactory
from tests.games.play_support import (
    distractors_of,
    fresh,
    listener_first_image,
    person,
    snapshot,
    start,
    targets_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _inline_bots(settings, game_library, notifications):
    settings.BOT_DISPATCH = "inline"


@pytest.fixture
def bot_requests(held_bots):
    """Hold bot requests instead of answering them (a worker that is slow or gone)."""
    return held_bots


def speak(game, turn, text="the tall one with a hat"):
    return play.submit_utterance(game.pk, game.speaker_id, turn, text)


# --- whole games -------------------------------------------------------------------------------------


def test_a_whole_game_against_the_oracle_succeeds_on_turn_one(clock, notifications, django_capture_on_commit_callbacks):
    game = start("oracle")
    assert (game.status, game.phase, game.turn_count, game.version) == ("playing", "speaker", 0, 0)
    assert game.phase_deadline == game.started_at + timedelta(seconds=30)
    clock.advance(4)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        speak(game, 0)
        # Nothing reaches the bot or the browsers before the move is committed.
        assert fresh(game).phase == "listener" and notifications == []
    assert len(callbacks) >= 2  # the bot request and the notification
    game = fresh(game)
    assert (game.status, game.phase, game.end_reason, game.turn_count) == ("ended", "ended", "success", 1)
    assert game.phase_deadline is None and game.ended_at == clock()
    assert notifications and set(notifications) == {game.pk}
    [turn] = game.turns.all()
    targets = targets_of(game)
    assert turn.utterance == "the tall one with a hat"
    assert (turn.selection_before, turn.selected, turn.deselected, turn.selection_after) == ([], targets, [], targets)
    assert (turn.action_source, turn.action_probability) == ("baseline", 1.0)
    assert turn.raw_output == f"deselect 0 select {len(targets)}"
    assert turn.speaker_seconds == 4.0 and turn.listener_seconds == 0.0
    assert turn.model_latency_seconds is not None and 0 <= turn.model_latency_seconds < 5
    # The journey's bookkeeping ran after the end: the speaker moves on to the survey.
    assert Participant.objects.get(pk=game.speaker_id).stage == "survey"


def test_a_human_listener_making_wrong_picks_reaches_the_turn_limit(clock):
    game = start("human")
    wrong = distractors_of(game)[0]
    for k in range(10):
        clock.advance(3)
        speak(game, k, f"message {k}")
        clock.advance(1)
        play.toggle_image(game.pk, game.listener_id, k, wrong)
        clock.advance(1)
        play.submit_selection(game.pk, game.listener_id, k)
        if k < 9:
            assert (fresh(game).phase, fresh(game).turn_count) == ("speaker", k + 1)
    game = fresh(game)
    assert (game.status, game.end_reason, game.turn_count) == ("ended", "turn_limit", 10)
    turns = list(game.turns.order_by("index"))
    assert [t.index for t in turns] == list(range(10))
    for k, turn in enumerate(turns):
        before = [wrong] if k % 2 else []
        after = [] if k % 2 else [wrong]
        assert turn.utterance == f"message {k}"
        assert (turn.selection_before, turn.selection_after) == (before, after)
        assert (turn.selected, turn.deselected) == (([], [wrong]) if k % 2 else ([wrong], []))
        assert (turn.action_source, turn.action_probability, turn.model_latency_seconds) == ("human", None, None)
        assert (turn.speaker_seconds, turn.listener_seconds) == (3.0, 2.0)
    # An ended game refuses every further move and a late submit for the last turn is harmless.
    assert play.submit_selection(game.pk, game.listener_id, 9).version == game.version
    with pytest.raises(PlayError) as error:
        play.toggle_image(game.pk, game.listener_id, 10, wrong)
    assert error.value.code == "game_over"


# --- idle endings and deadlines ---------------------------------------------------------------------------


def test_speaker_idle_ends_the_game_only_after_the_grace_period(clock):
    game = start("oracle")
    deadline = game.phase_deadline
    before = snapshot(game.pk)
    assert play.enforce_deadline(game.pk, now=deadline - timedelta(seconds=1)) is None
    assert play.enforce_deadline(game.pk, now=deadline + timedelta(seconds=1.9)) is None  # grace is 2 s
    assert snapshot(game.pk) == before
    assert play.enforce_deadline(game.pk, now=deadline + timedelta(seconds=2)) == "speaker_idle"
    game = fresh(game)
    assert (game.status, game.phase, game.end_reason, game.turn_count) == ("ended", "ended", "speaker_idle", 0)
    assert game.ended_at == deadline + timedelta(seconds=2) and game.phase_deadline is None
    assert not game.turns.exists()
    # Once ended, deadlines are nothing to act on, and the speaker's message is refused.
    assert play.enforce_deadline(game.pk, now=deadline + timedelta(hours=1)) is None
    with pytest.raises(PlayError) as error:
        speak(game, 0)
    assert error.value.code == "game_over"


def test_a_message_after_the_grace_period_is_too_late(clock):
    game = start("human")
    clock.advance(30 + 2.5)
    before = snapshot(game.pk)
    with pytest.raises(PlayError) as error:
        speak(game, 0)
    assert error.value.code == "too_late" and snapshot(game.pk) == before
    # ... but one inside the grace period is still taken.
    other = start("human")
    clock.advance(31)
    speak(other, 0)
    assert fresh(other).phase == "listener"


def test_listener_idle_ends_the_game_when_they_never_clicked(clock):
    game = start("human")
    speak(game, 0)
    deadline = fresh(game).phase_deadline
    assert deadline == clock() + timedelta(seconds=30)
    assert play.enforce_deadline(game.pk, now=deadline + timedelta(seconds=1)) is None
    assert play.enforce_deadline(game.pk, now=deadline + timedelta(seconds=2)) == "listener_idle"
    game = fresh(game)
    assert (game.status, game.end_reason, game.turn_count) == ("ended", "listener_idle", 0)
    assert not game.turns.exists()


def test_listener_whose_clicks_cancel_out_is_idle(clock):
    game = start("human")
    speak(game, 0)
    image = distractors_of(game)[0]
    play.toggle_image(game.pk, game.listener_id, 0, image)
    play.toggle_image(game.pk, game.listener_id, 0, image)
    assert play.enforce_deadline(game.pk, now=fresh(game).phase_deadline + timedelta(seconds=2)) == "listener_idle"


def test_listener_who_clicked_is_auto_submitted_at_the_deadline(clock):
    game = start("human")
    clock.advance(5)
    speak(game, 0, "first")
    picks = targets_of(game)[:2]
    for image in picks:
        play.toggle_image(game.pk, game.listener_id, 0, image)
    deadline = fresh(game).phase_deadline
    assert play.enforce_deadline(game.pk, now=deadline + timedelta(seconds=2)) == "auto_submit"
    game = fresh(game)
    assert (game.status, game.phase, game.turn_count) == ("playing", "speaker", 1)
    assert game.live_selection == picks and not game.listener_clicked
    assert game.phase_deadline == deadline + timedelta(seconds=2 + 30)
    [turn] = game.turns.all()
    assert (turn.selected, turn.deselected, turn.selection_after) == (picks, [], picks)
    assert (turn.action_source, turn.speaker_seconds, turn.listener_seconds) == ("human", 5.0, 32.0)


def test_bot_is_asked_again_after_its_first_deadline_then_the_fallback_is_recorded(
    clock, bot_requests, django_capture_on_commit_callbacks
):
    checkpoint = CheckpointFactory()
    game = start("oracle", checkpoint=checkpoint)
    clock.advance(2)
    with django_capture_on_commit_callbacks(execute=True):
        speak(game, 0)
        assert bot_requests == []  # only once the message is committed
    assert bot_requests == [(game.pk, 0, 1)]
    game = fresh(game)
    assert (game.phase, game.bot_attempt) == ("listener", 1)
    first_deadline = game.phase_deadline
    assert first_deadline == clock() + timedelta(seconds=20)
    # No grace for bots: exactly at the deadline the retry goes out.
    assert play.enforce_deadline(game.pk, now=first_deadline - timedelta(milliseconds=1)) is None
    with django_capture_on_commit_callbacks(execute=True):
        assert play.enforce_deadline(game.pk, now=first_deadline) == "bot_retry"
    assert bot_requests == [(game.pk, 0, 1), (game.pk, 0, 2)]
    game = fresh(game)
    assert (game.phase, game.bot_attempt, game.turn_count) == ("listener", 2, 0)
    assert game.phase_deadline == first_deadline + timedelta(seconds=20)
    with django_capture_on_commit_callbacks(execute=True):
        assert play.enforce_deadline(game.pk, now=game.phase_deadline) == "bot_fallback"
    assert len(bot_requests) == 2  # no third request: the fallback decided the turn
    game = fresh(game)
    first = listener_first_image(game)
    [turn] = game.turns.all()
    assert (turn.action_source, turn.action_probability) == ("timeout", -1.0)
    assert (turn.selected, turn.deselected, turn.selection_after) == ([first], [], [first])
    assert turn.checkpoint_id == checkpoint.pk and turn.model_latency_seconds is None
    assert (turn.speaker_seconds, turn.listener_seconds) == (2.0, 40.0)
    assert (game.phase, game.turn_count, game.bot_attempt) == ("speaker", 1, 0)

    # A late answer for the decided turn is ignored.
    before = snapshot(game.pk)
    late = ListenerAction(select=frozenset(targets_of(game)), deselect=frozenset(), source="baseline", probability=1.0)
    assert play.apply_listener_action(game.pk, 0, late) is False
    assert snapshot(game.pk) == before

    # The fallback toggles: on the next timed-out turn the same image is deselected.
    speak(game, 1)
    for _ in range(2):
        play.enforce_deadline(game.pk, now=fresh(game).phase_deadline)
    second = fresh(game).turns.get(index=1)
    assert (second.selected, second.deselected, second.selection_after) == ([], [first], [])


def test_a_bot_answer_for_another_turn_or_a_human_game_is_refused(bot_requests):
    game = start("oracle")
    action = ListenerAction(select=frozenset(targets_of(game)), deselect=frozenset(), source="baseline")
    assert play.apply_listener_action(game.pk, 0, action) is False  # still the speaker's phase
    speak(game, 0)
    assert play.apply_listener_action(game.pk, 1, action) is False  # a turn that has not come
    human = start("human")
    speak(human, 0)
    before = snapshot(human.pk)
    assert play.apply_listener_action(human.pk, 0, action) is False
    assert snapshot(human.pk) == before
    assert play.apply_listener_action(game.pk, 0, action) is True
    assert fresh(game).end_reason == "success"


# --- refused moves change nothing ------------------------------------------------------------------------


def test_repeated_submit_is_idempotent(clock):
    game = start("human")
    speak(game, 0)
    play.toggle_image(game.pk, game.listener_id, 0, targets_of(game)[0])
    play.submit_selection(game.pk, game.listener_id, 0)
    before = snapshot(game.pk)
    for _ in range(3):
        assert play.submit_selection(game.pk, game.listener_id, 0).turn_count == 1
    assert snapshot(game.pk) == before and before[1] == 1


def refused(code, move):
    with pytest.raises(PlayError) as error:
        move()
    assert error.value.code == code, error.value.message
    return error.value


def test_refused_moves_raise_the_right_code_and_change_nothing():
    game = start("human")
    stranger = person()
    target = targets_of(game)[0]
    before = snapshot(game.pk)
    refused("stale_turn", lambda: speak(game, 1))
    refused("not_your_role", lambda: play.submit_utterance(game.pk, game.listener_id, 0, "hi"))
    refused("not_your_role", lambda: play.submit_utterance(game.pk, stranger.pk, 0, "hi"))
    refused("not_your_role", lambda: play.submit_utterance(game.pk, None, 0, "hi"))
    refused("not_your_role", lambda: play.toggle_image(game.pk, game.speaker_id, 0, target))
    refused("not_your_turn", lambda: play.toggle_image(game.pk, game.listener_id, 0, target))
    refused("not_your_turn", lambda: play.submit_selection(game.pk, game.listener_id, 0))
    refused("invalid", lambda: speak(game, 0, ""))
    refused("invalid", lambda: speak(game, 0, " \n\t "))
    refused("invalid", lambda: speak(game, 0, "  " + "x" * 301 + "  "))
    refused("invalid", lambda: speak(game, 0, None))
    refused("invalid", lambda: speak(game, 0, "nul \x00 inside"))  # PostgreSQL cannot store it
    refused("not_found", lambda: play.submit_utterance(999_999, game.speaker_id, 0, "hi"))
    assert snapshot(game.pk) == before

    speak(game, 0, "  " + "x" * 300 + "  ")  # exactly the limit once trimmed
    assert fresh(game).pending_utterance == "x" * 300
    before = snapshot(game.pk)
    foreign = Tangram.objects.exclude(name__in=targets_of(game) + distractors_of(game)).first().name
    refused("invalid", lambda: play.toggle_image(game.pk, game.listener_id, 0, foreign))
    refused("invalid", lambda: play.toggle_image(game.pk, game.listener_id, 0, "no-such-image"))
    refused("invalid", lambda: play.toggle_image(game.pk, game.listener_id, 0, ["a list"]))
    refused("invalid", lambda: play.submit_selection(game.pk, game.listener_id, 0))  # nothing selected yet
    refused("stale_turn", lambda: play.toggle_image(game.pk, game.listener_id, 1, target))
    refused("not_your_turn", lambda: speak(game, 0, "again"))
    refused("not_your_role", lambda: play.submit_selection(game.pk, stranger.pk, 0))
    assert snapshot(game.pk) == before

    # Clicking an image twice is no change: submitting it is refused as well.
    play.toggle_image(game.pk, game.listener_id, 0, target)
    play.toggle_image(game.pk, game.listener_id, 0, target)
    before = snapshot(game.pk)
    refused("invalid", lambda: play.submit_selection(game.pk, game.listener_id, 0))
    assert snapshot(game.pk) == before


def test_every_accepted_move_bumps_the_version_and_notifies(notifications, django_capture_on_commit_callbacks):
    game = start("human")
    with django_capture_on_commit_callbacks(execute=True):
        speak(game, 0)
        play.toggle_image(game.pk, game.listener_id, 0, targets_of(game)[0])
        play.toggle_image(game.pk, game.listener_id, 0, targets_of(game)[1])
    game = fresh(game)
    assert game.version == 3 and notifications == [game.pk] * 3
    assert game.live_selection == sorted(targets_of(game)[:2]) and game.listener_clicked


def test_expire_overdue_moves_each_due_game_once(clock, bot_requests):
    idle = start("oracle")
    bot = start("oracle")
    speak(bot, 0)
    later = start("oracle", settings={"timing": {"speaker_seconds": 600}})
    clock.advance(32)
    assert play.expire_overdue() == 2  # idle speaker ended, bot retried
    assert fresh(idle).end_reason == "speaker_idle"
    assert fresh(bot).bot_attempt == 2 and fresh(later).status == "playing"
    assert play.expire_overdue() == 0
    clock.advance(20)
    assert play.expire_overdue() == 1 and fresh(bot).turns.get().action_source == "timeout"


def test_practice_game_is_started_with_the_round_settings_frozen():
    game = start("oracle", settings={"timing": {"speaker_seconds": 45}}, purpose=Interaction.Purpose.PRACTICE)
    assert game.settings["timing"]["speaker_seconds"] == 45.0
    assert game.phase_deadline == game.started_at + timedelta(seconds=45)
    assert Turn.objects.count() == 0


# --- server outages -------------------------------------------------------------------------------------


@pytest.fixture
def outage_notifications(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(uptime, "notify_interaction", sent.append)
    return sent


def test_a_server_outage_extends_deadlines_instead_of_ending_games_as_idle(outage_notifications,
                                                                           django_capture_on_commit_callbacks):
    # The site was down for 40 s (no heartbeat); the speaker's deadline ran out meanwhile.
    now = timezone.now()
    ServerHeartbeat.objects.create(name=uptime.WEB, beat_at=now - timedelta(seconds=40))
    game = start("oracle")
    Interaction.objects.filter(pk=game.pk).update(phase_deadline=now - timedelta(seconds=10))
    before = fresh(game)
    # Until a web process is back, no deadline runs out: not through a sweep, not directly.
    assert play.expire_overdue() == 0 and play.enforce_deadline(game.pk) is None
    assert fresh(game).status == "playing" and uptime.server_down()
    with django_capture_on_commit_callbacks(execute=True):
        outage = uptime.beat()  # the first beat of a web process that is back
    assert 40 <= outage < 45
    game = fresh(game)
    assert 30 <= (game.phase_deadline - now).total_seconds() < 36  # the 40 s lost are given back
    assert game.version == before.version + 1 and outage_notifications == [game.pk]  # browsers are told
    assert not uptime.server_down()
    assert play.expire_overdue() == 0 and fresh(game).status == "playing"
    # Past the extended deadline it is an idle ending after all: the players had their time.
    assert play.enforce_deadline(game.pk, now=game.phase_deadline + timedelta(seconds=3)) == "speaker_idle"


def test_a_heartbeat_without_a_gap_changes_nothing(outage_notifications):
    game = start("oracle")
    assert uptime.beat() == 0.0 and uptime.beat() == 0.0
    assert fresh(game).phase_deadline == game.phase_deadline and outage_notifications == []
    assert not uptime.server_down()


def test_during_an_outage_a_bots_retry_and_fallback_go_on(bot_requests, django_capture_on_commit_callbacks):
    # Nobody is blamed for a bot's retry or fallback, and simulations through the services (which
    # wait on bot deadlines) must not stall on a heartbeat left stale by a stopped web server.
    now = timezone.now()
    ServerHeartbeat.objects.create(name=uptime.WEB, beat_at=now - timedelta(seconds=600))
    game = start("oracle")
    with django_capture_on_commit_callbacks(execute=True):
        speak(game, 0)
        assert play.enforce_deadline(game.pk, now=fresh(game).phase_deadline) == "bot_retry"
        assert play.enforce_deadline(game.pk, now=fresh(game).phase_deadline) == "bot_fallback"
    assert fresh(game).turns.get().action_source == "timeout"
