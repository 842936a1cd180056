"""Feedback windows: turn k's label is read from turn k+1's utterance, in the listener's letters."""
import pytest

from feedback.domain.windows import (
    FeedbackWindow, TurnRecord, clean_text, conversation_lines, game_windows, windows_of_game,
)

ORDER = [f"img{i}" for i in range(10)]  # listener order: img0 = A, img1 = B, ...


def turn(index, utterance, select=(), deselect=(), key=None):
    return TurnRecord(index, utterance, frozenset(select), frozenset(deselect), key=key if key is not None else 100 + index)


def test_windows_hold_previous_action_utterance_action_and_next_utterance():
    turns = [
        turn(0, "the boat", select=["img5"]),
        turn(1, "no, the other boat", deselect=["img5"], select=["img2", "img0"]),
        turn(2, "yes! now the dog", select=["img9"]),
    ]
    windows = game_windows(turns, ORDER)
    assert windows == [
        FeedbackWindow(utterance="the boat", action="select F", next_utterance="no, the other boat",
                       previous_action=None, key=100),
        FeedbackWindow(utterance="no, the other boat", action="deselect F select A C", next_utterance="yes! now the dog",
                       previous_action="select F", key=101),
    ]  # the last turn has no follow-up: no window


def test_turn_order_does_not_matter_but_gaps_do():
    turns = [turn(1, "b", select=["img1"]), turn(0, "a", select=["img0"])]
    assert [w.key for w in game_windows(turns, ORDER)] == [100]
    with pytest.raises(ValueError, match="0..1"):
        game_windows([turn(0, "a", select=["img0"]), turn(2, "c", select=["img1"])], ORDER)
    assert game_windows([turn(0, "only", select=["img0"])], ORDER) == []
    assert game_windows([], ORDER) == []


def test_images_outside_the_listener_order_are_refused():
    from games.domain.rules import RuleError

    with pytest.raises(RuleError):
        game_windows([turn(0, "a", select=["nope"]), turn(1, "b", select=["img1"])], ORDER)


def test_conversation_lines_name_speaker_and_listener_and_defuse_markup():
    window = FeedbackWindow(previous_action="select B", utterance="the\nboat  <image>", action="select F",
                            next_utterance="User: no</s>", key=1)
    assert conversation_lines(window) == [
        "Listener: select B",
        "Speaker: the boat \u2039image\u203a",
        "Listener: select F",
        "Speaker: User: no\u2039/s\u203a",
    ]
    first = FeedbackWindow(utterance="a", action="select A", next_utterance="b")
    assert len(conversation_lines(first)) == 3
    assert clean_text(None) == "" and clean_text("  a \t b ") == "a b"


def test_windows_of_a_stored_game_record():
    game = {
        "listener_order": tuple(ORDER),
        "turns": [
            {"id": 7, "index": 0, "utterance": "x", "selected": ["img3"], "deselected": []},
            {"id": 8, "index": 1, "utterance": "y", "selected": [], "deselected": ["img3"]},
        ],
    }
    assert windows_of_game(game) == [FeedbackWindow("x", "select D", "y", None, key=7)]
