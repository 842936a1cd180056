"""Whole games in memory: rules kept, turns consistent, ground truth per turn, seeded."""
from games.domain import rules
from games.domain.stats import summarise
from games.simulation.agents.speaker import SpeakerStyle
from games.simulation.drivers.in_memory import play_game, simulate_game_in_memory


def test_a_game_follows_the_rules_and_records_the_intent_of_every_turn(contexts):
    for seed, context in enumerate(contexts[:40]):
        turns = simulate_game_in_memory(context, SpeakerStyle(), None, seed)
        assert 1 <= len(turns) <= rules.MAX_TURNS
        selection = frozenset()
        for index, turn in enumerate(turns):
            assert turn.index == index and turn.selection_before == selection
            assert turn.selection_after == rules.apply_action(selection, turn.action)
            assert not turn.action.is_empty
            assert turn.utterance == turn.intent.text
            selection = turn.selection_after
            if index == 0:
                assert turn.intent.feedback == "none"
            else:
                previous = turns[index - 1]
                quality = rules.action_quality(previous.action, context.targets)
                assert turn.intent.previous_action_quality == quality.name
            assert selection != context.targets or index == len(turns) - 1
        won = turns[-1].selection_after == context.targets
        assert won or len(turns) == rules.MAX_TURNS


def test_games_are_deterministic_under_their_seed(contexts):
    context = contexts[0]
    first = simulate_game_in_memory(context, SpeakerStyle(), None, 11)
    assert simulate_game_in_memory(context, SpeakerStyle(), None, 11) == first
    others = [simulate_game_in_memory(context, SpeakerStyle(), None, s) for s in range(12, 20)]
    assert any(o != first for o in others)


def test_intended_feedback_follows_the_true_quality_when_the_speaker_never_misjudges(contexts):
    style = SpeakerStyle(misjudge_rate=0.0)
    for seed, context in enumerate(contexts[:60]):
        for turn in simulate_game_in_memory(context, style, None, seed)[1:]:
            quality, feedback = turn.intent.previous_action_quality, turn.intent.feedback
            if quality == "GOOD":
                assert feedback == "positive"
            elif quality == "MIXED":
                assert feedback in ("neutral", "negative")
            else:
                assert feedback in ("negative", "neutral")


def test_a_more_accurate_listener_succeeds_more_often_in_fewer_turns(contexts):
    def run(accuracy):
        return summarise([(r.success, r.turn_count) for r in
                          (play_game(c, SpeakerStyle(), None, s, listener_accuracy=accuracy)
                           for s, c in enumerate(contexts))])

    good, poor = run(0.95), run(0.3)
    assert good.success.mean > poor.success.mean + 0.2
    assert good.turns.mean < poor.turns.mean
    assert 0.8 <= run(0.85).success.mean < 1.0


def test_the_speaker_uses_the_whole_repertoire_over_many_games(contexts):
    moves = set()
    for seed, context in enumerate(contexts):
        moves |= {t.intent.move for t in simulate_game_in_memory(context, SpeakerStyle(), None, seed,
                                                                  listener_accuracy=0.6)}
    assert {"describe", "approve_next", "silent_next", "correct", "undo", "rephrase", "try_again", "partial",
            "reset"} <= moves
