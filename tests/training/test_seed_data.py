"""Seed examples (good actions + augmentations) and simulated games for training (pure)."""
import pytest

from games.domain.rules import Action
from games.domain.tangrams import generate_figures
from training.learning.examples import (
    REMOVE_CURRENT_PHRASES, REMOVE_LAST_PHRASES, PlayedTurn, is_good_turn, remove_current_augmentation,
    remove_last_augmentation, seed_dataset,
)
from games.domain.game_configs import generate_contexts
from training.learning.simulated import play_policy_games, simulated_turns
from training.policies.base import ActRequest, ActResult

ORDER = tuple("abcdefghij")
TARGETS = frozenset("abc")


def turn(select="", deselect="", selection="", index=0, game="g"):
    request = ActRequest(
        interaction_id=0, turn=index, listener_order=ORDER, history=(), utterance="the bird", selection=frozenset(selection),
    )
    return PlayedTurn(request, Action(deselect=frozenset(deselect), select=frozenset(select)), TARGETS, game)


def test_only_good_selects_and_deselects_count_as_good():
    assert is_good_turn(turn(select="a"))
    assert is_good_turn(turn(deselect="d", selection="ad"))
    assert not is_good_turn(turn(select="ad"))
    assert not is_good_turn(turn(select="d"))
    with pytest.raises(ValueError):
        is_good_turn(PlayedTurn(turn().request, Action(select={"a"})))


def test_remove_last_asks_to_undo_a_bad_selection():
    import random

    bad = turn(select="ad", selection="b")
    follow = remove_last_augmentation(bad, random.Random(0))
    assert follow.action == Action(deselect=frozenset("ad"))
    assert follow.request.selection == frozenset("abd")
    assert follow.request.turn == 1 and follow.request.history[-1].select == frozenset("ad")
    assert follow.request.utterance in REMOVE_LAST_PHRASES and follow.origin == "remove_last"
    assert remove_last_augmentation(turn(select="a"), random.Random(0)) is None  # a good select
    assert remove_last_augmentation(turn(deselect="b", selection="b"), random.Random(0)) is None  # selected nothing
    assert remove_last_augmentation(turn(select="d", index=9), random.Random(0)) is None  # no turn left


def test_remove_current_clears_the_whole_selection():
    import random

    follow = remove_current_augmentation(turn(select="d", selection="ab"), random.Random(0))
    assert follow.action == Action(deselect=frozenset("abd"))
    assert follow.request.utterance in REMOVE_CURRENT_PHRASES and follow.origin == "remove_current"
    assert remove_current_augmentation(turn(deselect="a", selection="a"), random.Random(0)) is None


def test_the_seed_dataset_mixes_augmentations_in_the_original_proportions():
    turns = [turn(select="a", game=str(k)) for k in range(88)] + [turn(select="d", selection="b", game=str(k)) for k in range(40)]
    rows = seed_dataset(turns, seed=1)
    origins = [r.origin for r in rows]
    assert origins.count("") == 88  # every good turn, no bad one
    assert origins.count("remove_last") == 6 and origins.count("remove_current") == 6
    assert [r.origin for r in seed_dataset(turns, seed=1)] == origins  # deterministic
    assert seed_dataset([turn(select="d")], seed=0) == []


@pytest.fixture(scope="module")
def figures():
    return {f"f{i}": f for i, f in enumerate(generate_figures(30, seed=2))}


def test_simulated_turns_replay_whole_games_with_their_history(figures):
    turns = simulated_turns(figures, 20, seed=3)
    assert turns == simulated_turns(figures, 20, seed=3)
    games = {}
    for t in turns:
        games.setdefault(t.game, []).append(t)
    assert len(games) == 20
    for game in games.values():
        for k, t in enumerate(game):
            assert t.request.turn == k and len(t.request.history) == k
            if k:
                assert t.request.selection == game[k - 1].selection_after
    assert any(is_good_turn(t) for t in turns) and not all(is_good_turn(t) for t in turns)


def test_simulated_games_are_played_on_the_generated_contexts(figures):
    contexts = generate_contexts(sorted(figures), 5, seed=3)
    turns = simulated_turns(figures, 5, seed=3)
    firsts = [t for t in turns if t.request.turn == 0]
    assert [(t.request.listener_order, t.targets) for t in firsts] == [(c.listener_order, c.targets) for c in contexts]
    with pytest.raises(ValueError):
        simulated_turns({"a": next(iter(figures.values()))}, 1, seed=0)


class Peeking:
    """A test policy that reads the targets from a side table: it always wins in one turn."""

    name = "peeking"

    def __init__(self, contexts):
        self.contexts = contexts
        self.batches = []

    def act(self, requests):
        self.batches.append(len(requests))
        out = []
        for r in requests:
            targets = self.contexts[r.interaction_id].targets
            out.append(ActResult(select=targets - r.selection, deselect=r.selection - targets, raw_output="",
                                 probability=1.0, source="model"))
        return out


class Stubborn:
    name = "stubborn"

    def act(self, requests):
        return [ActResult(select=frozenset(r.listener_order[:1]) - r.selection,
                          deselect=frozenset(r.listener_order[:1]) & r.selection, raw_output="", probability=1.0,
                          source="model") for r in requests]


def test_policy_games_run_in_lockstep_batches(figures):
    contexts = generate_contexts(sorted(figures), 12, seed=4)
    peeking = Peeking(contexts)
    games = play_policy_games(peeking, figures, contexts, seed=0)
    assert all(g.success and g.turns == 1 for g in games) and peeking.batches == [12]
    games = play_policy_games(Stubborn(), figures, contexts, seed=0)
    assert not any(g.success for g in games) and all(g.turns == 10 for g in games)
    assert all(len(g.turn_log) == 10 for g in games)
    # The speaker's recorded intent behind each utterance comes with the game (ground truth for decoders).
    for g in games:
        assert len(g.intents) == 10 and g.intents[0].feedback == "none"
        assert [m.text for m in g.intents] == [t.request.utterance for t in g.turn_log]
        assert all(m.feedback in ("positive", "neutral", "negative") for m in g.intents[1:])


def test_the_random_baseline_is_reproducible_per_game_and_turn():
    from training.policies.baselines import RandomPolicy

    def request(game, turn):
        return ActRequest(interaction_id=game, turn=turn, listener_order=ORDER, history=(), utterance="x",
                          selection=frozenset())

    batch = [request(g, t) for g in range(5) for t in range(3)]
    first = RandomPolicy().act(batch)
    assert RandomPolicy().act(list(reversed(batch))) == list(reversed(first))  # order and batching do not matter
    assert len({r.select for r in first}) > 3  # but different turns differ
    assert RandomPolicy(seed=1).act(batch) != first
