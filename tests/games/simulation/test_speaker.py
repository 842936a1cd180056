"""The simulated speaker: feedback per action quality, moves, style settings, determinism."""
import threading

import pytest

from games.domain import rules
from games.simulation.agents.speaker import (
    APPROVE_NEXT, NEGATIVE, NEUTRAL, NONE, PARTIAL, POSITIVE, RESET, SILENT_NEXT, SimulatedSpeaker, SpeakerContext,
    SpeakerStyle, StyleError,
)

QUIET = dict(misjudge_rate=0.0, typo_rate=0.0)
FRUSTRATION_WORDS = ("reset", "restart", "from scratch", "all over", "start over", "deselect everything",
                     "deselect all", "remove everything", "remove all", "clear everything", "clear all",
                     "unselect everything", "unselect all", "drop everything", "drop all")


def speaker_for(context, seed=0, **style):
    speaker = SimulatedSpeaker(context, SpeakerStyle(**{**QUIET, **style}), seed=seed)
    first = speaker.first_move()
    return speaker, first


def in_order(context, images):
    return [i for i in context.images if i in images]


def test_the_first_move_describes_the_first_target_on_the_speakers_screen(contexts):
    for context in contexts[:20]:
        _, first = speaker_for(context)
        assert first.feedback == NONE and first.previous_action_quality == "" and first.move == "describe"
        assert first.target == in_order(context, context.targets)[0]
        assert first.text


def test_a_good_action_gets_positive_feedback_and_the_next_target(contexts):
    for seed, context in enumerate(contexts[:30]):
        speaker, first = speaker_for(context, seed)
        after = frozenset({first.target})
        move = speaker.react(frozenset(), after)
        assert move.feedback == POSITIVE and move.previous_action_quality == "GOOD"
        assert move.move in (APPROVE_NEXT, SILENT_NEXT)
        assert move.target in context.targets - after


def test_a_bad_action_gets_negative_feedback(contexts):
    moves = set()
    for seed, context in enumerate(contexts[:40]):
        speaker, first = speaker_for(context, seed)
        wrong = in_order(context, set(context.images) - context.targets)[0]
        move = speaker.react(frozenset(), frozenset({wrong}))
        assert move.feedback == NEGATIVE and move.previous_action_quality == "BAD"
        moves.add(move.move)
    assert {"correct", "undo", "rephrase", "try_again"} <= moves


def test_a_mixed_action_gets_partial_approval(contexts):
    for seed, context in enumerate(contexts[:20]):
        speaker, first = speaker_for(context, seed, partial_rate=1.0)
        wrong, other_wrong = in_order(context, set(context.images) - context.targets)[:2]
        # Deselected a red image (good) and selected another red one (bad): mixed.
        move = speaker.react(frozenset({wrong}), frozenset({other_wrong}))
        assert (move.feedback, move.previous_action_quality, move.move) == (NEUTRAL, "MIXED", PARTIAL)
        assert move.details["remove"] == [other_wrong]


def test_a_right_and_a_wrong_pick_together_get_partial_approval(contexts):
    for seed, context in enumerate(contexts[:20]):
        speaker, first = speaker_for(context, seed, partial_rate=1.0)
        wrong = in_order(context, set(context.images) - context.targets)[0]
        move = speaker.react(frozenset(), frozenset({first.target, wrong}))
        assert (move.feedback, move.previous_action_quality, move.move) == (NEUTRAL, "BAD", PARTIAL)
        assert move.details["remove"] == [wrong]


def test_removing_a_target_is_answered_with_keep(contexts):
    context = contexts[0]
    speaker, first = speaker_for(context)
    speaker.react(frozenset(), frozenset({first.target}))
    move = speaker.react(frozenset({first.target}), frozenset())
    assert move.feedback == NEGATIVE and move.move == "keep" and move.target == first.target


def test_approval_rate_decides_between_saying_so_and_moving_on_silently(contexts):
    context = contexts[1]
    loud = [speaker_for(context, s, approve_rate=1.0)[0] for s in range(10)]
    silent = [speaker_for(context, s, approve_rate=0.0)[0] for s in range(10)]
    first = in_order(context, context.targets)[0]
    assert {s.react(frozenset(), frozenset({first})).move for s in loud} == {APPROVE_NEXT}
    assert {s.react(frozenset(), frozenset({first})).move for s in silent} == {SILENT_NEXT}


def test_a_misleading_no_is_still_positive(contexts):
    context = contexts[2]
    first = in_order(context, context.targets)[0]
    for seed in range(10):
        speaker, _ = speaker_for(context, seed, approve_rate=1.0, misleading_no_rate=1.0)
        move = speaker.react(frozenset(), frozenset({first}))
        assert move.feedback == POSITIVE and move.details["misleading"]
        assert "no" in move.text.lower().replace("now", "")


def test_a_frustrated_speaker_asks_to_start_over(contexts):
    context = contexts[3]
    wrong = frozenset(in_order(context, set(context.images) - context.targets)[:3])
    for seed in range(10):
        speaker, _ = speaker_for(context, seed, reset_rate=1.0)
        move = speaker.react(frozenset(), wrong)
        assert move.move == RESET and move.feedback == NEGATIVE and move.details["frustrated"]
        assert any(word in move.text.lower() for word in FRUSTRATION_WORDS)


def test_misjudging_records_the_true_quality_and_the_intended_polarity(contexts):
    context = contexts[4]
    first = in_order(context, context.targets)[0]
    speaker = SimulatedSpeaker(context, SpeakerStyle(misjudge_rate=1.0), seed=1)
    speaker.first_move()
    move = speaker.react(frozenset(), frozenset({first}))
    assert move.previous_action_quality == "GOOD" and move.feedback == NEGATIVE


def test_typos_are_made_at_the_typo_rate(contexts):
    speaker = SimulatedSpeaker(contexts[5], SpeakerStyle(typo_rate=1.0, casual_rate=1.0), seed=0)
    move = speaker.first_move()
    assert move.details.get("typo") is True


def test_the_same_seed_gives_the_same_game_and_another_seed_another(contexts):
    def transcript(seed):
        out = []
        for context in contexts[:10]:
            speaker = SimulatedSpeaker(context, SpeakerStyle(), seed=seed)
            wrong = in_order(context, set(context.images) - context.targets)[0]
            out += [speaker.first_move().text, speaker.react(frozenset(), frozenset({wrong})).text]
        return out

    assert transcript(7) == transcript(7)
    assert transcript(7) != transcript(8)


def test_speakers_running_at_the_same_time_do_not_share_state(contexts):
    def play(seed):
        speaker = SimulatedSpeaker(contexts[seed], SpeakerStyle(), seed=seed)
        wrong = in_order(contexts[seed], set(contexts[seed].images) - contexts[seed].targets)[0]
        return [speaker.first_move().text] + [speaker.react(frozenset(), frozenset({wrong})).text]

    expected = {seed: play(seed) for seed in range(16)}
    results = {}
    threads = [threading.Thread(target=lambda s=s: results.__setitem__(s, play(s))) for s in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected


def test_the_speaker_stays_within_the_rules(contexts):
    context = contexts[6]
    speaker, _ = speaker_for(context)
    with pytest.raises(rules.RuleError):
        speaker.react(frozenset(), context.targets)  # the game is won
    with pytest.raises(rules.RuleError):
        speaker.first_move()  # only once
    wrong = frozenset(in_order(context, set(context.images) - context.targets)[:1])
    for _ in range(rules.MAX_TURNS - 1):
        speaker.react(frozenset(), wrong)
    with pytest.raises(rules.RuleError):
        speaker.react(frozenset(), wrong)  # no eleventh message
    with pytest.raises(rules.RuleError):
        SimulatedSpeaker(context).react(frozenset(), wrong)  # react before the first move


def test_human_descriptions_are_used_when_given(figures, contexts):
    base = contexts[7]
    said = {image: ("a person hugging a pillow", "chair") for image in base.images}
    context = SpeakerContext(base.images, base.targets, figures, said)
    move = SimulatedSpeaker(context, SpeakerStyle(**QUIET), seed=0).first_move()
    assert "person hugging a pillow" in move.text.lower() or "chair" in move.text.lower()
    assert move.details["descriptions"][0]["human"] is True


def test_style_round_trips_and_refuses_bad_settings():
    style = SpeakerStyle.from_dict({"typo_rate": 0.2, "frustration_wrong": 4})
    assert SpeakerStyle.from_dict(style.to_dict()) == style
    for bad in ({"typo_rate": 1.5}, {"nonsense": 1}, {"approve_rate": "often"}, {"frustration_wrong": 0},
                {"correct_weight": 0, "undo_weight": 0, "rephrase_weight": 0, "try_again_weight": 0},
                {"typo_rate": True}):
        with pytest.raises(StyleError):
            SpeakerStyle.from_dict(bad)
    with pytest.raises(StyleError):
        SpeakerStyle.from_dict(["not", "an", "object"])


def test_a_context_without_figures_is_refused(figures, contexts):
    context = contexts[0]
    with pytest.raises(rules.RuleError):
        SpeakerContext(context.images, context.targets, {})
    with pytest.raises(rules.RuleError):
        SpeakerContext(context.images, frozenset({"not-there"}), figures)
