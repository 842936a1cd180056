"""The games app's bot port (games.bots): games asks whoever ``settings.BOT_BACKEND`` names, and the
live engine decides every turn by stepping the one game progression (``GameState``)."""
from datetime import timedelta

import pytest

from games import selectors
from games.bots import bot_backend
from games.domain import rules
from games.models import Deployment, Round
from games.services import play
from games.services.play import ListenerAction
from games.services.rounds import RoundError, create_system, launch_round
from tests.factories import CheckpointFactory
from tests.games.play_support import RecordingBotBackend, distractors_of, fresh, start, targets_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _library(game_library, notifications):
    pass


def test_the_backend_is_the_one_the_setting_names(settings, held_bots):
    assert isinstance(bot_backend(), RecordingBotBackend)
    settings.BOT_BACKEND = "games.nowhere.Backend"
    with pytest.raises(ImportError):
        bot_backend()


def test_a_bot_game_asks_the_backend_once_the_message_is_committed(held_bots, django_capture_on_commit_callbacks):
    game = start("random")
    with django_capture_on_commit_callbacks(execute=True):
        play.submit_utterance(game.pk, game.speaker_id, 0, "the bird")
        assert held_bots == []
    assert held_bots == [(game.pk, 0, 1)]
    # A human game never asks.
    human = start("human", settings={"timing": {"bot_min_delay_seconds": 1.5}})
    with django_capture_on_commit_callbacks(execute=True):
        play.submit_utterance(human.pk, human.speaker_id, 0, "the bird")
    assert held_bots == [(game.pk, 0, 1)]


def test_round_launch_refuses_what_the_backend_finds_wrong_and_creates_nothing(held_bots):
    create_system("B-SUP", listener_kind="model", decoder="binary", objective="sup")
    checkpoint = CheckpointFactory()
    RecordingBotBackend.problems = ["checkpoint seed: base model folder /x has no config.json"]
    with pytest.raises(RoundError, match="no config.json"):
        launch_round(systems=[("B-SUP", checkpoint.pk)], split="dev")
    with pytest.raises(RoundError, match="system X: checkpoint seed"):
        create_system("X", listener_kind="model", decoder="binary", hyperparameters={"anything": 1})
    assert not Round.objects.exists() and not Deployment.objects.exists()
    RecordingBotBackend.problems = []
    assert launch_round(systems=[("B-SUP", checkpoint.pk)], split="dev").status == "open"


def test_the_engine_decides_turns_as_the_game_state_does(held_bots):
    game = start("random")
    targets, others = targets_of(game), distractors_of(game)
    moves = [
        ("the bird", rules.Action(select=frozenset({targets[0], others[0]}))),
        ("not the second one", rules.Action(deselect=frozenset({others[0]}), select=frozenset({targets[1]}))),
        ("and the rest", rules.Action(select=frozenset(targets[2:]))),
    ]
    expected = rules.GameState.replay(targets, targets + others, moves)
    for turn, (utterance, action) in enumerate(moves):
        play.submit_utterance(game.pk, game.speaker_id, turn, utterance)
        answer = ListenerAction(select=action.select, deselect=action.deselect, source="baseline", probability=0.5)
        assert play.apply_listener_action(game.pk, turn, answer) is True
    game = fresh(game)
    assert (game.status, game.end_reason, game.turn_count) == ("ended", expected.outcome, expected.turn)
    recorded = selectors.game_state_of(game)
    assert recorded == expected and recorded.history == expected.history
    assert [t.selection_after for t in game.turns.order_by("index")] == [
        sorted(p.selection_after) for p in expected.history
    ]


def test_what_a_bot_is_told_about_its_turn(held_bots):
    game = start("oracle")
    play.submit_utterance(game.pk, game.speaker_id, 0, "the bird")
    first = frozenset(targets_of(game)[:1])
    play.apply_listener_action(game.pk, 0, ListenerAction(select=first, deselect=frozenset(), source="baseline"))
    play.submit_utterance(game.pk, game.speaker_id, 1, "yes, and the boat")
    view = selectors.bot_turn(game.pk)
    assert (view.state.turn, view.state.selection, view.utterance) == (1, first, "yes, and the boat")
    assert [p.utterance for p in view.state.history] == ["the bird"]
    assert view.targets == frozenset(targets_of(game)) and len(view.listener_order) == 10
    assert view.system_hyperparameters is None and view.show_at is None  # play_support's games: no delay


def test_a_bots_answer_is_due_the_display_delay_after_the_message_and_only_in_its_turn(held_bots):
    game = start("oracle", settings={"timing": {"bot_min_delay_seconds": 1.5}})
    assert selectors.bot_answer_shown_at(game) is None  # the speaker's turn
    play.submit_utterance(game.pk, game.speaker_id, 0, "the bird")
    game = fresh(game)
    due = game.phase_started_at + timedelta(seconds=1.5)
    assert selectors.bot_answer_shown_at(game) == due == selectors.bot_turn(game.pk).show_at
    state = selectors.game_state_for(game.pk, game.speaker_id)
    assert 0 < state["bot_answer_in"] <= 1.5
    play.apply_listener_action(game.pk, 0, ListenerAction(select=frozenset(targets_of(game)), deselect=frozenset(),
                                                         source="baseline"))
    assert selectors.bot_answer_shown_at(fresh(game)) is None  # decided: nothing is due
    human = start("human", settings={"timing": {"bot_min_delay_seconds": 1.5}})
    play.submit_utterance(human.pk, human.speaker_id, 0, "the bird")
    assert selectors.bot_answer_shown_at(fresh(human)) is None  # a person listens
