"""Episode: the one step object every driver moves a simulated game on with (pure)."""
import pytest

from games.domain import rules
from games.simulation import (
    Episode, SimulatedSpeaker, SpeakerStyle, derive_seed, human_listener_for, play_episode, simulate_episode,
    simulate_game_in_memory,
)


class Counting:
    """A speaker that records how it is called (any object with first_move/react can speak)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def first_move(self):
        self.calls.append("first")
        return self.inner.first_move()

    def react(self, before, after):
        self.calls.append("react")
        return self.inner.react(before, after)


def counting_episode(context, seed=0):
    speaker = Counting(SimulatedSpeaker(context, SpeakerStyle(), seed=seed))
    state = rules.GameState(targets=context.targets, context=frozenset(context.images))
    return Episode(speaker, state), speaker


def test_it_ends_exactly_when_the_game_state_ends_and_the_speaker_speaks_only_while_it_goes_on(figures, contexts):
    for seed, context in enumerate(contexts[:30]):
        episode, speaker = counting_episode(context, seed)
        listener = human_listener_for(context.images, figures, seed, accuracy=0.6)
        while True:
            assert not episode.over and episode.intent is not None and episode.utterance == episode.intent.text
            result = episode.submit(rules.clean_action(
                listener.act(episode.utterance, episode.selection, episode.history), episode.selection)[0])
            assert episode.over == episode.state.is_over == result.ended
            assert (episode.intent is None) == episode.over
            if episode.over:
                break
        assert speaker.calls == ["first"] + ["react"] * (len(episode.turns) - 1)
        assert episode.success == (episode.state.selection == context.targets) == (episode.outcome == "success")
        assert episode.success or len(episode.turns) == rules.MAX_TURNS
        with pytest.raises(rules.RuleError):
            episode.utterance
        with pytest.raises(rules.RuleError):
            episode.submit(rules.Action())


def test_its_turns_are_the_game_states_history(contexts):
    for seed, context in enumerate(contexts[:30]):
        episode = simulate_episode(context, SpeakerStyle(), None, seed)
        turns, history = episode.turns, episode.state.history
        assert [(t.selection_before, t.utterance, t.action.select, t.action.deselect) for t in turns] == [
            (p.selection_before, p.utterance, p.select, p.deselect) for p in history]
        assert [t.selection_after for t in turns] == [p.selection_after for p in history]
        assert [t.index for t in turns] == list(range(len(turns))) and episode.state.turn == len(turns)
        assert [t.utterance for t in turns] == [t.intent.text for t in turns]
        replayed = rules.GameState.replay(context.targets, context.images, [(t.utterance, t.action) for t in turns])
        assert replayed == episode.state and replayed.history == history


def test_a_winning_action_ends_it_on_the_first_turn_without_another_message(contexts):
    context = contexts[3]
    episode, speaker = counting_episode(context)
    result = episode.submit(rules.Action(select=context.targets))
    assert result.ended and episode.over and episode.success and episode.outcome == rules.OUTCOME_SUCCESS
    assert len(episode.turns) == 1 and episode.intent is None and speaker.calls == ["first"]


def test_an_empty_action_every_turn_runs_into_the_turn_limit(contexts):
    episode, speaker = counting_episode(contexts[4])
    for _ in range(rules.MAX_TURNS):
        episode.submit(rules.Action())
    assert episode.over and not episode.success and episode.outcome == rules.OUTCOME_TURN_LIMIT
    assert speaker.calls == ["first"] + ["react"] * (rules.MAX_TURNS - 1)


def test_an_inconsistent_action_is_refused_and_changes_nothing(contexts):
    context = contexts[5]
    episode, _ = counting_episode(context)
    with pytest.raises(rules.RuleError):
        episode.submit(rules.Action(deselect=frozenset(context.images[:1])))  # nothing is selected yet
    assert episode.state.turn == 0 and episode.turns == () and episode.intent is not None


def test_it_starts_before_the_first_turn_with_the_speaker_made_by_build_speaker(contexts):
    context = contexts[6]
    episode = Episode.start(context, SpeakerStyle(), seed=42)
    assert episode.intent == SimulatedSpeaker(context, SpeakerStyle(), seed=42).first_move()
    state = rules.GameState(targets=context.targets, context=frozenset(context.images))
    state.submit(rules.Action())
    with pytest.raises(rules.RuleError):
        Episode(SimulatedSpeaker(context, seed=1), state)


def test_the_in_memory_driver_is_the_episode_stepped_by_the_listener(figures, contexts):
    for seed, context in enumerate(contexts[:10]):
        by_hand = Episode.start(context, SpeakerStyle(), seed=derive_seed(seed, "speaker"))
        play_episode(by_hand, human_listener_for(context.images, figures, seed, descriptions=context.descriptions))
        assert simulate_game_in_memory(context, SpeakerStyle(), None, seed) == list(by_hand.turns)


def test_the_websocket_speaker_steps_its_episode_with_the_frames_and_refuses_another_game(contexts):
    from games.simulation.drivers.remote import RemoteError, _follow

    def frame(turn, selection, outcome=None):
        return {"turn": turn, "selection": sorted(selection), "outcome": outcome}

    context = contexts[7]
    wrong = next(i for i in context.images if i not in context.targets)
    episode = Episode.start(context, SpeakerStyle(), seed=1)
    _follow(episode, frame(0, []))  # its own turn: nothing played yet
    _follow(episode, frame(1, [wrong]))  # the listener submitted
    assert episode.state.turn == 1 and episode.selection == {wrong} and not episode.over
    _follow(episode, frame(1, []))  # the listener's phase of the next turn: nothing new
    assert episode.state.turn == 1
    with pytest.raises(RemoteError, match="turn 3"):
        _follow(episode, frame(3, []))
    with pytest.raises(RemoteError, match="disagree"):
        _follow(episode, frame(2, context.targets, {"success": False, "reason": "turn_limit"}))

    idle = Episode.start(context, SpeakerStyle(), seed=1)
    _follow(idle, frame(0, [], {"success": False, "reason": "speaker_idle"}))  # ended by the clock, not the rules
    assert not idle.over
