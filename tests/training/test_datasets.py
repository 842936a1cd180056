"""Retraining datasets (training.learning.datasets): which turns go in, as what, and shuffling."""
import random

import pytest

from games.domain.rules import Action, GameState
from training.learning.datasets import (
    INTERACTION_TASK,
    SEED_TASK,
    DatasetError,
    LoggedTurn,
    build_dataset,
    shuffled_context,
    unrelated_action,
)
from training.learning.examples import PlayedTurn, seed_dataset
from training.policies.base import ActRequest
from training.policies.prompts import lettered_history

IMAGES = tuple(f"img{i}" for i in range(10))
TARGETS = frozenset(IMAGES[:3])


def played_game(game: str, moves) -> list[PlayedTurn]:
    """PlayedTurns of a game of ``moves`` (utterance, action) on IMAGES with targets img0-img2."""
    state = GameState(targets=TARGETS, context=frozenset(IMAGES))
    out = []
    for utterance, action in moves:
        request = ActRequest.for_state(state, listener_order=IMAGES, utterance=utterance)
        out.append(PlayedTurn(request=request, action=action, targets=TARGETS, game=game))
        state.submit(action, utterance)
    return out


GAME = played_game("g1", [
    ("the bird", Action(select=frozenset({"img0"}))),  # good
    ("yes, now the boat", Action(select=frozenset({"img7"}))),  # bad
    ("no, not that", Action(deselect=frozenset({"img7"}), select=frozenset({"img1"}))),  # good
    ("right, and the last", Action(select=frozenset({"img5"}))),  # bad
])


def logged(turn, label, *, probability=0.4, source="model", succeeded=False, round_=1):
    return LoggedTurn(turn=turn, round=round_, label=label, probability=probability, action_source=source,
                      game_succeeded=succeeded, checkpoint_id=7)


LOGGED = [
    logged(GAME[0], "positive"),
    logged(GAME[1], "negative"),
    logged(GAME[2], "neutral"),
    logged(GAME[3], "unparsed"),
    logged(GAME[0], "positive", probability=-1.0, source="fallback"),
    logged(GAME[0], None),
    logged(GAME[2], "positive", probability=-3.0, round_=2),  # grammar-constrained: no probability
]


def build(objective, *, binary=False, rows=(), **kwargs):
    return build_dataset(objective, LOGGED, list(rows), binary=binary, seed=0, held_out_share=0.0,
                         shuffle_contexts=False, **kwargs)


def rewards(dataset):
    return sorted((e.turn.request.utterance, e.reward) for e in dataset.task(INTERACTION_TASK))


def test_sup_takes_decoded_positives_only():
    data = build("sup")
    assert rewards(data) == [("no, not that", 1.0), ("the bird", 1.0)]
    assert data.stats["excluded"] == {"fallback": 1, "negative": 1, "neutral": 1, "unlabelled": 1, "unparsed": 1}
    assert data.stats["labels_per_round"] == {
        "1": {"negative": 1, "neutral": 1, "positive": 2, "unlabelled": 1, "unparsed": 1}, "2": {"positive": 1},
    }
    assert data.stats["used_per_round"] == {"1": {"desirable": 1}, "2": {"desirable": 1}}


def test_rl_uses_the_studys_rewards_and_needs_the_logged_probability():
    data = build("rl")
    assert rewards(data) == [("the bird", 1.0), ("yes, now the boat", -0.1)]
    assert data.stats["excluded"]["no_probability"] == 1 and data.stats["excluded"]["neutral"] == 1
    assert {e.logged_probability for e in data.task(INTERACTION_TASK)} == {0.4}


def test_a_binary_system_reads_neutral_as_negative():
    assert ("no, not that", -0.1) in rewards(build("rl", binary=True))
    assert rewards(build("kto", binary=True)) == [("no, not that", -1.0), ("the bird", 1.0), ("yes, now the boat", -1.0)]


def test_final_reward_ignores_labels_and_uses_the_games_outcome():
    won = [logged(t, None, succeeded=True) for t in GAME[:2]] + [logged(GAME[3], "positive", succeeded=False)]
    data = build_dataset("final_reward", won, [], binary=False, seed=0, held_out_share=0.0, shuffle_contexts=False)
    assert rewards(data) == [("right, and the last", -0.1), ("the bird", 1.0), ("yes, now the boat", 1.0)]


def test_seed_only_uses_no_interaction_and_the_seed_rows_are_always_in():
    rows = seed_dataset(GAME, seed=0)
    data = build("seed_only", rows=rows)
    assert data.task(INTERACTION_TASK) == [] and len(data.task(SEED_TASK)) == len(rows)
    assert data.stats["logged_turns"] == 0
    assert len(build("sup", rows=rows).task(SEED_TASK)) == len(rows)
    with pytest.raises(DatasetError, match="nothing to train on"):
        build("seed_only")


def test_seed_rows_carry_the_augmentations_in_the_studys_proportions():
    many = [t for k in range(60) for t in played_game(f"s{k}", [
        ("the bird", Action(select=frozenset({"img0"}))),
        ("and the boat", Action(select=frozenset({"img8"}))),
        ("no", Action(deselect=frozenset({"img8"}), select=frozenset({"img1"}))),
    ])]
    rows = seed_dataset(many, seed=0)
    data = build("seed_only", rows=rows)
    augmented = data.stats["augmented_seed_rows"]
    total = data.stats["rows"]
    assert augmented["remove_last"] / total == pytest.approx(0.06, abs=0.01)
    assert augmented["remove_current"] / total == pytest.approx(0.06, abs=0.01)


def test_an_unknown_objective_is_refused():
    with pytest.raises(DatasetError, match="objective must be one of"):
        build("dpo")


def test_shuffling_relabels_letters_consistently_through_the_whole_history():
    turn = GAME[3]
    shuffled = shuffled_context(turn, random.Random(4))
    assert shuffled.request.listener_order != turn.request.listener_order
    assert sorted(shuffled.request.listener_order) == sorted(IMAGES)
    before, after = lettered_history(turn.request), lettered_history(shuffled.request)
    for lettering, turns, selection in (before, after):
        # Every lettered past action and selection names the same images as the game did.
        assert [lettering.to_images(t.action) for t in turns] == [t.action for t in turn.request.history]
        assert lettering.to_images(selection) == turn.request.selection
    assert [t.action for t in before[1]] != [t.action for t in after[1]]  # the letters did change


def test_held_out_games_are_whole_and_reproducible():
    games = [t for k in range(40) for t in played_game(f"h{k}", [("the bird", Action(select=frozenset({"img0"})))])]
    rows = [logged(t, "positive") for t in games]
    one = build_dataset("sup", rows, [], binary=False, seed=3, held_out_share=0.25)
    two = build_dataset("sup", rows, [], binary=False, seed=3, held_out_share=0.25)
    assert [e.turn.game for e in one.held_out] == [e.turn.game for e in two.held_out]
    assert 0 < len(one.held_out) < 40
    assert not {e.turn.game for e in one.held_out} & {e.turn.game for e in one.examples}
    assert [e.turn.request.listener_order for e in one.examples] == [e.turn.request.listener_order for e in two.examples]


def test_human_human_actions_select_the_checkpoint_and_every_row_trains():
    games = [t for k in range(40) for t in played_game(f"h{k}", [("the bird", Action(select=frozenset({"img0"})))])]
    rows = [logged(t, "positive") for t in games]
    people = played_game("hh1", [("the crow", Action(select=frozenset({"img1"}))),
                                 ("and the eagle", Action(select=frozenset({"img2"})))])
    data = build_dataset("sup", rows, [], binary=False, seed=3, held_out_share=0.25, selection=people)
    assert len(data.examples) == 40  # no slice of the system's own games is held out
    assert [e.turn.request.utterance for e in data.held_out] == ["the crow", "and the eagle"]
    assert all(e.desirable and e.task == SEED_TASK for e in data.held_out)
    assert data.stats["held_out_source"] == "human-human" and data.stats["held_out_rows"] == 2
    assert [e.turn.action for e in data.held_out] == [t.action for t in people]
    sliced = build_dataset("sup", rows, [], binary=False, seed=3, held_out_share=0.25)
    assert sliced.stats["held_out_source"] == "own games" and 0 < len(sliced.held_out) < 40
    none = build_dataset("sup", rows, [], binary=False, seed=3, held_out_share=0.0, selection=people)
    assert none.held_out == [] and none.stats["held_out_source"] == "none" and len(none.examples) == 40


def test_the_unrelated_action_is_a_single_click_on_the_first_or_second_image():
    assert unrelated_action(GAME[1]) == Action(deselect=frozenset({"img0"}))  # img0 is selected: a deselect
    click = played_game("c", [("x", Action(select=frozenset({"img0"})))])[0]
    assert unrelated_action(click) == Action(select=frozenset({"img1"}))  # the real action was that click
