"""The simulated human listener follows descriptions and corrections from the text."""
import random

import pytest

from games.domain import rules
from games.simulation.agents.describe import describe, figure_attributes, with_article
from games.simulation.agents.human_listener import ListenerTurn, SimulatedHumanListener
from games.simulation.agents.shape_features import shape_features


def phrase_for(figures, context, image):
    attrs = {i: figure_attributes(shape_features(figures[i])) for i in context.images}
    return with_article(describe(attrs[image], [attrs[i] for i in context.images if i != image]).phrase)


def listener_for(figures, context, accuracy=1.0, seed=0):
    order = list(context.images)
    random.Random(seed).shuffle(order)
    return SimulatedHumanListener(order, figures, accuracy=accuracy, seed=seed)


def test_an_accurate_listener_selects_the_described_image(figures, contexts):
    hits = total = 0
    for context in contexts:
        listener = listener_for(figures, context)
        for target in context.targets:
            action = listener.act(phrase_for(figures, context, target), frozenset())
            hits += action == rules.Action(select=frozenset({target}))
            total += 1
    assert hits / total >= 0.9


def test_an_inaccurate_listener_often_picks_another_image(figures, contexts):
    hits = total = 0
    for context in contexts[:60]:
        listener = listener_for(figures, context, accuracy=0.0)
        for target in context.targets:
            hits += target in listener.act(phrase_for(figures, context, target), frozenset()).select
            total += 1
    assert hits / total <= 0.2


def test_undo_takes_back_what_was_just_selected(figures, contexts):
    context = contexts[0]
    listener = listener_for(figures, context)
    a, b, c = context.images[:3]
    history = [ListenerTurn("the first", rules.Action(select=frozenset({a}))),
               ListenerTurn("and the second", rules.Action(select=frozenset({b, c})))]
    action = listener.act("undo that", frozenset({a, b, c}), history)
    assert action == rules.Action(deselect=frozenset({b, c}))


def test_clear_all_deselects_everything(figures, contexts):
    context = contexts[1]
    listener = listener_for(figures, context)
    selected = frozenset(context.images[:3])
    action = listener.act("ugh. clear all, start over", selected, [ListenerTurn("x", rules.Action(select=selected))])
    assert action.deselect == selected and not action.select


def test_no_not_that_one_swaps_the_last_pick_for_the_described_image(figures, contexts):
    context = contexts[2]
    target = sorted(context.targets)[0]
    wrong = sorted(set(context.images) - context.targets)[0]
    listener = listener_for(figures, context)
    history = [ListenerTurn("something", rules.Action(select=frozenset({wrong})))]
    action = listener.act(f"no, not that one. {phrase_for(figures, context, target)}", frozenset({wrong}), history)
    assert action.deselect == frozenset({wrong})
    assert target in action.select or len(action.select) == 1


def test_a_request_to_remove_a_described_image_deselects_it(figures, contexts):
    context = contexts[3]
    wrong = sorted(set(context.images) - context.targets)[0]
    other = sorted(context.targets)[0]
    listener = listener_for(figures, context)
    selection = frozenset({wrong, other})
    action = listener.act(f"now unselect {phrase_for(figures, context, wrong)}", selection,
                          [ListenerTurn("x", rules.Action(select=selection))])
    assert action == rules.Action(deselect=frozenset({wrong}))


def test_a_no_that_is_not_negative_does_not_undo_anything(figures, contexts):
    context = contexts[4]
    first, second = sorted(context.targets)[:2]
    listener = listener_for(figures, context)
    history = [ListenerTurn("the first", rules.Action(select=frozenset({first})))]
    action = listener.act(f"no problem, now {phrase_for(figures, context, second)}", frozenset({first}), history)
    assert not action.deselect


def test_try_again_picks_another_image_for_the_same_description(figures, contexts):
    context = contexts[5]
    target = sorted(context.targets)[0]
    listener = listener_for(figures, context)
    said = phrase_for(figures, context, target)
    wrong = sorted(set(context.images) - {target})[0]
    history = [ListenerTurn(said, rules.Action(select=frozenset({wrong})))]
    action = listener.act("try again", frozenset({wrong}), history)
    assert action.deselect == frozenset({wrong}) and len(action.select) == 1 and wrong not in action.select


def test_every_action_is_valid_and_non_empty_even_for_nonsense(figures, contexts):
    context = contexts[6]
    listener = listener_for(figures, context, accuracy=0.5)
    selection = frozenset()
    for text in ("", "hmm", "asdf qwerty", "undo", "the bird", "no", "clear all"):
        action = listener.act(text, selection)
        assert not action.is_empty
        selection = rules.apply_action(selection, action)


def test_human_descriptions_are_matched_by_their_words(figures, contexts):
    context = contexts[7]
    target = sorted(context.targets)[0]
    said = {i: (f"thing number {n}",) for n, i in enumerate(context.images)}
    said[target] = ("a person hugging a pillow",)
    listener = SimulatedHumanListener(context.images, figures, accuracy=1.0, seed=0, descriptions=said)
    assert listener.act("the person hugging a pillow", frozenset()).select == frozenset({target})


def test_bad_settings_are_refused(figures, contexts):
    with pytest.raises(ValueError):
        SimulatedHumanListener(contexts[0].images, figures, accuracy=1.5)
    with pytest.raises(ValueError):
        SimulatedHumanListener(contexts[0].images, {}, accuracy=0.5)
    listener = listener_for(figures, contexts[0])
    with pytest.raises(rules.RuleError):
        listener.act("the bird", frozenset({"not-in-context"}))
