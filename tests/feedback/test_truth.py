"""Ground truths: the intent of turn k+1 judges turn k; action quality comes from the targets."""
from feedback.domain.truth import action_quality_truth, intent_truth, simulated_quality_truth


def game():
    return {
        "targets": frozenset({"t1", "t2", "t3"}),
        "turns": [
            {"id": 10, "index": 0, "selected": ["t1"], "deselected": []},  # good
            {"id": 11, "index": 1, "selected": ["t2", "d1"], "deselected": []},  # bad select (a distractor)
            {"id": 12, "index": 2, "selected": ["t3"], "deselected": ["d1"]},  # good both
            {"id": 13, "index": 3, "selected": ["d2"], "deselected": ["t1"]},  # bad both
        ],
        "intents": {
            0: {"feedback": "none", "previous_action_quality": "", "move": "describe"},
            1: {"feedback": "positive", "previous_action_quality": "GOOD", "move": "approve_next"},
            2: {"feedback": "negative", "previous_action_quality": "bad", "move": "undo"},
            3: {"feedback": "neutral", "previous_action_quality": "MIXED", "move": "partial"},
        },
    }


def test_intent_of_the_next_turn_is_the_truth_of_this_turn():
    assert intent_truth([game()]) == {10: "positive", 11: "negative", 12: "neutral"}  # the last turn has none


def test_simulated_quality():
    assert simulated_quality_truth([game()]) == {10: "positive", 11: "negative", 12: "neutral"}


def test_target_derived_quality_covers_every_turn():
    assert action_quality_truth([game()]) == {10: "positive", 11: "negative", 12: "positive", 13: "negative"}
    # a good select with a bad deselect (a target taken off)
    mixed = {"targets": frozenset({"t1", "t2"}), "intents": {},
             "turns": [{"id": 1, "index": 0, "selected": ["t1"], "deselected": ["t2"]}]}
    assert action_quality_truth([mixed]) == {1: "neutral"}


def test_games_of_people_have_no_intent_truth():
    people = {**game(), "intents": {}}
    assert intent_truth([people]) == {} and simulated_quality_truth([people]) == {}
