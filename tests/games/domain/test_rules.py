"""Rules of the MultiRef game (pure Python; runs without Django)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings, strategies as st

from games.domain.rules import (
    CONTEXT_SIZE,
    LETTERS,
    MAX_TURNS,
    Action,
    ActionQuality,
    GameState,
    Lettering,
    PastTurn,
    RuleError,
    action_between,
    action_quality,
    apply_action,
    clean_action,
    click_accuracy,
    click_outcomes,
    format_action,
    is_good_deselect,
    is_good_select,
    is_success,
    parse_action,
    parse_model_output,
)

A = Action
fs = frozenset
IMAGES = tuple(f"page{i}-{i * 7}" for i in range(CONTEXT_SIZE))

letters_sets = st.frozensets(st.sampled_from(LETTERS))


@st.composite
def letter_actions(draw) -> Action:
    # Each letter is left alone, deselected or selected.
    kinds = draw(st.lists(st.sampled_from([None, "d", "s"]), min_size=10, max_size=10))
    return Action(
        deselect=frozenset(c for c, k in zip(LETTERS, kinds) if k == "d"),
        select=frozenset(c for c, k in zip(LETTERS, kinds) if k == "s"),
    )


@st.composite
def selection_and_consistent_action(draw) -> tuple[frozenset[str], Action]:
    selected = draw(letters_sets)
    desel = draw(st.frozensets(st.sampled_from(sorted(selected)))) if selected else fs()
    rest = sorted(set(LETTERS) - selected)
    sel = draw(st.frozensets(st.sampled_from(rest))) if rest else fs()
    return selected, Action(deselect=desel, select=sel)


# ------------------------------------------------------------------------- Action


def test_action_rejects_overlap_and_stores_frozensets():
    with pytest.raises(RuleError):
        Action(deselect={"A"}, select={"A", "B"})
    a = Action(deselect=["B"], select={"C"})
    assert a.deselect == fs("B") and isinstance(a.select, frozenset)
    assert a.toggled == fs("BC") and not a.is_empty and Action().is_empty
    assert hash(a) == hash(Action(fs("B"), fs("C")))


def test_from_toggles_uses_toggle_semantics():
    # B selected -> deselect; C new -> select; D clicked twice cancels out.
    a = Action.from_toggles(["B", "C", "D", "D"], selected={"B", "E"})
    assert a == Action(deselect=fs("B"), select=fs("C"))
    assert Action.from_toggles([], selected={"A"}).is_empty


# ------------------------------------------------------------------ text format


@pytest.mark.parametrize(
    "text, action",
    [
        ("select A C", A(select=fs("AC"))),
        ("deselect B", A(deselect=fs("B"))),
        ("deselect B select E F", A(deselect=fs("B"), select=fs("EF"))),
        ("nothing", A()),
    ],
)
def test_documented_strings_parse_and_format(text, action):
    assert parse_action(text) == action
    assert format_action(action) == text


@pytest.mark.parametrize(
    "text",
    [
        "select A B deselect H I",  # select before deselect: invalid
        "select C A",  # not sorted: not canonical
        "select  A",
        " select A",
        "select A ",
        "Select A",
        "select a",
        "select A A",
        "select K",
        "select",
        "deselect select A",
        "deselect A select",
        "select A select B",
        "deselect A select A",
        "",
        "nothing A",
        "selectA",
    ],
)
def test_parse_action_is_strict(text):
    assert parse_action(text) is None


def test_parse_action_non_text_is_none():
    assert parse_action(None) is None  # type: ignore[arg-type]


def test_format_requires_letters():
    with pytest.raises(RuleError):
        format_action(Action(select=fs({"page1-2"})))
    with pytest.raises(RuleError):
        format_action(Action(select=fs({"K"})))


@given(letter_actions())
def test_format_parse_round_trip(action):
    text = format_action(action)
    assert parse_action(text) == action
    # The text is canonical: deselect part first, sorted letters.
    if action.deselect and action.select:
        assert text.index("deselect") < text.index(" select ")


@given(st.text(alphabet="selctdnoghiABCDEFGHIJK  ", max_size=30))
def test_parse_action_accepts_only_canonical_texts(text):
    action = parse_action(text)
    if action is not None:
        assert format_action(action) == text


# ----------------------------------------------------------------- model output


def out(raw, selected=""):
    return parse_model_output(raw, fs(selected))


@pytest.mark.parametrize(
    "raw, selected, action, source",
    [
        ("select A C", "", A(select=fs("AC")), "ok"),
        ("deselect B", "B", A(deselect=fs("B")), "ok"),
        ("deselect B select E F", "BD", A(deselect=fs("B"), select=fs("EF")), "ok"),
        ("Assistant: select F", "", A(select=fs("F")), "ok"),
        ("User: A B\nAssistant: deselect J", "J", A(deselect=fs("J")), "ok"),
        ("Assistant:   select \t A   C \n", "", A(select=fs("AC")), "ok"),
        ("Assistant: select F<end_of_utterance>", "", A(select=fs("F")), "ok"),
        ("select F.", "", A(select=fs("F")), "ok"),
        ("select F </s>", "", A(select=fs("F")), "ok"),
        ("SELECT C", "", A(select=fs("C")), "ok"),  # verbs in any case
        ("Deselect A Select B", "A", A(deselect=fs("A"), select=fs("B")), "ok"),
        ("select C A", "", A(select=fs("AC")), "ok"),  # unsorted letters mean the same
        # cleaning: B is not selected, A already is
        ("deselect B select A E", "A", A(select=fs("E")), "cleaned"),
        ("deselect B C", "C", A(deselect=fs("C")), "cleaned"),
    ],
)
def test_model_output_examples(raw, selected, action, source):
    result = out(raw, selected)
    assert (result.action, result.source) == (action, source)


@pytest.mark.parametrize(
    "raw",
    [
        "select A B deselect H I",  # select before deselect
        "select a c",  # lower-case letters are rejected
        "select A A",  # repeated letter
        "deselect B B select C",
        "select K",  # letters outside A-J
        "select A Z",
        "",
        "   ",
        "Assistant:",
        "Assistant: ",
        "nothing",  # empty action
        "select A, C",
        "I think it is A",
        "select AC",
        "deselect A select A",
        "select A\x00",
        "ｓｅｌｅｃｔ A",  # full-width verb
        None,
        b"select A",
        "select A" + " " * 100_000 + "B",
        "x" * 1_000_000,
    ],
)
def test_model_output_invalid_falls_back_to_first_image(raw):
    result = out(raw)
    assert result.source == "fallback"
    assert result.action == A(select=fs("A"))
    assert result.reason


@pytest.mark.parametrize(
    "raw, source",
    [
        ("select A" + "." * 1_000_000, "ok"),
        ("select A" + " <end_of_utterance>" * 100_000, "ok"),
        ("Assistant:" + " " * 1_000_000 + "select A", "ok"),
        ("<a>" * 300_000, "fallback"),
        (":" * 1_000_000, "fallback"),
    ],
)
def test_model_output_is_linear_on_adversarial_input(raw, source):
    start = time.perf_counter()
    assert out(raw).source == source
    assert time.perf_counter() - start < 2.0  # quadratic stripping would take minutes


def test_fallback_toggles_first_image_off_when_selected():
    assert out("garbage", "AC").action == A(deselect=fs("A"))
    assert parse_model_output("", fs(), fallback_letter="D").action == A(select=fs("D"))


def test_fallback_when_cleaning_leaves_nothing():
    result = out("deselect B select A", "A")
    assert result.source == "fallback"
    assert "cleaning" in result.reason
    assert result.action == A(deselect=fs("A"))


def test_model_output_caller_errors_raise():
    with pytest.raises(RuleError):
        parse_model_output("select A", fs({"K"}))
    with pytest.raises(RuleError):
        parse_model_output("select A", fs(), fallback_letter="Z")


def _check_consistent(result, selected):
    action = result.action
    assert result.source in {"ok", "cleaned", "fallback"}
    assert not action.is_empty
    assert action.toggled <= set(LETTERS)
    assert action.deselect <= selected
    assert not (action.select & selected)
    after = apply_action(selected, action)  # never raises for a consistent action
    assert after <= set(LETTERS)


@settings(max_examples=300)
@given(st.text(), letters_sets)
def test_model_output_never_raises_on_any_text(raw, selected):
    _check_consistent(parse_model_output(raw, selected), selected)


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["select", "deselect", "Select", "DESELECT", "nothing", "Assistant:", ":", "."]),
            st.sampled_from(LETTERS + "KZa"),
            st.text(max_size=3),
        ),
        max_size=12,
    ).map(" ".join),
    letters_sets,
)
def test_model_output_never_raises_on_near_grammar_text(raw, selected):
    _check_consistent(parse_model_output(raw, selected), selected)


@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text())), letters_sets)
def test_model_output_never_raises_on_non_text(raw, selected):
    result = parse_model_output(raw, selected)  # type: ignore[arg-type]
    assert result.source == "fallback"
    _check_consistent(result, selected)


@given(letter_actions(), letters_sets)
def test_model_output_of_canonical_text(action, selected):
    result = parse_model_output("Assistant: " + format_action(action), selected)
    _check_consistent(result, selected)
    cleaned, dropped = clean_action(action, selected)
    if cleaned.is_empty:
        assert result.source == "fallback"
    else:
        assert result.action == cleaned
        assert result.source == ("cleaned" if dropped else "ok")


# -------------------------------------------------------------------- cleaning


def test_clean_action():
    assert clean_action(A(deselect=fs("AB"), select=fs("CD")), fs("AC")) == (A(deselect=fs("A"), select=fs("D")), True)
    assert clean_action(A(deselect=fs("A"), select=fs("D")), fs("AC")) == (A(deselect=fs("A"), select=fs("D")), False)


@given(letter_actions(), letters_sets)
def test_cleaned_action_applies_within_context(action, selected):
    cleaned, dropped = clean_action(action, selected)
    assert dropped == (cleaned != action)
    assert cleaned.deselect <= action.deselect and cleaned.select <= action.select
    after = apply_action(selected, cleaned)
    assert after <= set(LETTERS)
    assert action_between(selected, after) == cleaned


# ------------------------------------------------------------------- lettering


def test_lettering_maps_listener_order():
    lettering = Lettering(IMAGES)
    assert lettering.letter_of(IMAGES[0]) == "A" and lettering.letter_of(IMAGES[9]) == "J"
    assert lettering.image_of("C") == IMAGES[2]
    act = A(deselect=fs({IMAGES[1]}), select=fs({IMAGES[4], IMAGES[5]}))
    assert lettering.to_letters(act) == A(deselect=fs("B"), select=fs("EF"))
    assert lettering.to_images(lettering.to_letters(act)) == act
    assert lettering.to_letters([IMAGES[3], IMAGES[0]]) == fs("AD")
    assert lettering.to_images("BJ") == fs({IMAGES[1], IMAGES[9]})


@pytest.mark.parametrize("order", [IMAGES[:9], IMAGES + ("x",), IMAGES[:9] + (IMAGES[0],)])
def test_lettering_rejects_bad_orders(order):
    with pytest.raises(RuleError):
        Lettering(order)


def test_lettering_rejects_unknown():
    lettering = Lettering(IMAGES)
    for call, arg in [(lettering.letter_of, "nope"), (lettering.image_of, "K"), (lettering.image_of, "a"),
                      (lettering.image_of, ["A"])]:
        with pytest.raises(RuleError):
            call(arg)
    with pytest.raises(RuleError):
        lettering.to_images(A(select=fs("Z")))


@given(st.permutations(IMAGES), letter_actions())
def test_lettering_round_trip(order, action):
    lettering = Lettering(order)
    images = lettering.to_images(action)
    assert lettering.to_letters(images) == action
    assert all(lettering.letter_of(order[LETTERS.index(c)]) == c for c in LETTERS)


# --------------------------------------------------------------- selection math


def test_apply_action_toggles_and_rejects_inconsistent():
    assert apply_action(fs("AB"), A(deselect=fs("A"), select=fs("C"))) == fs("BC")
    with pytest.raises(RuleError):
        apply_action(fs("AB"), A(select=fs("A")))
    with pytest.raises(RuleError):
        apply_action(fs("AB"), A(deselect=fs("C")))


@given(letters_sets, letters_sets)
def test_action_between_reaches_after(before, after):
    assert apply_action(before, action_between(before, after)) == after


def test_is_success_is_exact():
    assert is_success({"A", "B", "C"}, fs("ABC"))
    assert not is_success(fs("AB"), fs("ABC"))
    assert not is_success(fs("ABCD"), fs("ABC"))


# ----------------------------------------------------------------- turn labels

T = fs("ABC")  # targets


@pytest.mark.parametrize(
    "action, good_sel, good_desel, quality",
    [
        (A(), False, False, ActionQuality.BAD),
        (A(select=fs("AB")), True, False, ActionQuality.GOOD),
        (A(select=fs("AD")), False, False, ActionQuality.BAD),
        (A(deselect=fs("DE")), False, True, ActionQuality.GOOD),
        (A(deselect=fs("A")), False, False, ActionQuality.BAD),
        (A(deselect=fs("D"), select=fs("A")), True, True, ActionQuality.GOOD),
        (A(deselect=fs("B"), select=fs("A")), True, False, ActionQuality.MIXED),
        (A(deselect=fs("D"), select=fs("E")), False, True, ActionQuality.MIXED),
        (A(deselect=fs("A"), select=fs("E")), False, False, ActionQuality.BAD),
        (A(deselect=fs("DA"), select=fs("B")), True, False, ActionQuality.MIXED),
    ],
)
def test_turn_labels(action, good_sel, good_desel, quality):
    assert is_good_select(action, T) is good_sel
    assert is_good_deselect(action, T) is good_desel
    assert action_quality(action, T) is quality


@given(letter_actions(), letters_sets)
def test_quality_consistent_with_good_flags(action, targets):
    q = action_quality(action, targets)
    gs, gd = is_good_select(action, targets), is_good_deselect(action, targets)
    if q is ActionQuality.GOOD:
        assert gs or gd
        assert all(click_outcomes(action, targets))  # every click was right
    if q is ActionQuality.MIXED:
        assert gs != gd and action.select and action.deselect
    if q is ActionQuality.BAD:
        assert not (gs or gd)
    if action.is_empty:
        assert q is ActionQuality.BAD
    # GOOD exactly when there is a click and all clicks are right.
    assert (q is ActionQuality.GOOD) == (not action.is_empty and all(click_outcomes(action, targets)))


def test_click_outcomes_and_accuracy():
    action = A(deselect=fs("AD"), select=fs("BE"))
    # deselect A (target: wrong), D (non-target: right); select B (target: right), E (wrong)
    assert click_outcomes(action, T) == [False, True, True, False]
    assert click_accuracy([(action, T), (A(select=fs("C")), T)]) == pytest.approx(3 / 5)
    assert click_accuracy([]) is None
    assert click_accuracy([(A(), T)]) is None


@given(st.lists(st.tuples(letter_actions(), letters_sets), max_size=8))
def test_click_accuracy_bounds(pairs):
    acc = click_accuracy(pairs)
    n = sum(len(a.toggled) for a, _ in pairs)
    if n == 0:
        assert acc is None
    else:
        assert 0.0 <= acc <= 1.0
        assert acc * n == pytest.approx(sum(sum(click_outcomes(a, t)) for a, t in pairs))


# ------------------------------------------------------------------ game state


def new_game(targets=IMAGES[:3]):
    return GameState(targets=fs(targets), context=fs(IMAGES))


def test_game_success_and_speaker_view():
    game = new_game()
    r1 = game.submit(A(select=fs({IMAGES[0], IMAGES[5]})))
    assert (r1.turn, r1.ended, r1.outcome) == (1, False, None)
    assert r1.correct == fs({IMAGES[0]}) and r1.wrong == fs({IMAGES[5]})
    assert r1.selection_before == fs() and r1.selection_after == fs({IMAGES[0], IMAGES[5]})
    r2 = game.submit(A(deselect=fs({IMAGES[5]}), select=fs({IMAGES[1], IMAGES[2]})))
    assert (r2.turn, r2.ended, r2.outcome) == (2, True, "success")
    assert game.is_over and game.turn == 2 and game.turns_left == 0
    with pytest.raises(RuleError):
        game.submit(A(deselect=fs({IMAGES[0]})))


def test_the_history_records_each_submitted_turn_as_the_listener_lived_it():
    game = new_game()
    game.submit(A(select=fs({IMAGES[0], IMAGES[5]})), "the bird and the boat")
    game.submit(A(deselect=fs({IMAGES[5]}), select=fs({IMAGES[1]})), "no, not the boat")
    first, second = game.history
    assert first == PastTurn(fs(), "the bird and the boat", fs({IMAGES[0], IMAGES[5]}), fs())
    assert second.selection_before == first.selection_after == fs({IMAGES[0], IMAGES[5]})
    assert second.action == A(deselect=fs({IMAGES[5]}), select=fs({IMAGES[1]}))
    assert second.selection_after == game.selection == fs({IMAGES[0], IMAGES[1]})


def test_replay_rebuilds_the_same_state_and_history():
    game = new_game()
    moves = [("one", A(select=fs({IMAGES[0]}))), ("two", A(select=fs({IMAGES[1], IMAGES[7]}))),
             ("three", A(deselect=fs({IMAGES[7]}), select=fs({IMAGES[2]})))]
    for utterance, action in moves:
        game.submit(action, utterance)
    replayed = GameState.replay(IMAGES[:3], IMAGES, moves)
    assert replayed == game and replayed.history == game.history
    assert (replayed.outcome, replayed.turn) == ("success", 3)


@pytest.mark.parametrize("moves", [
    [("x", A(deselect=fs({IMAGES[0]})))],  # deselects what is not selected
    [("x", A(select=fs({"elsewhere"})))],  # outside the context
    [("x", A(select=fs(IMAGES[:3]))), ("y", A(select=fs({IMAGES[4]})))],  # a move after the game ended
])
def test_replay_refuses_turns_that_are_not_a_legal_game(moves):
    with pytest.raises(RuleError):
        GameState.replay(IMAGES[:3], IMAGES, moves)


def test_a_restored_state_with_a_history_must_lead_to_its_selection():
    played = new_game()
    played.submit(A(select=fs({IMAGES[4]})), "x")
    with pytest.raises(RuleError):
        GameState(played.targets, played.context, fs({IMAGES[5]}), 1, None, played.history)
    assert GameState(played.targets, played.context, played.selection, 1, None, played.history).history == played.history


def test_game_turn_limit():
    game = new_game()
    for i in range(MAX_TURNS):
        result = game.submit(A(select=fs({IMAGES[9]})) if i % 2 == 0 else A(deselect=fs({IMAGES[9]})))
        assert result.ended == (i == MAX_TURNS - 1)
    assert game.outcome == "turn_limit" and game.turn == MAX_TURNS
    with pytest.raises(RuleError):
        game.submit(A(select=fs({IMAGES[0]})))


def test_success_on_last_turn_wins():
    game = GameState(targets=fs(IMAGES[:3]), context=fs(IMAGES), selection=fs(IMAGES[:2]), turn=MAX_TURNS - 1)
    assert game.submit(A(select=fs({IMAGES[2]}))).outcome == "success"


def test_game_rejects_bad_moves():
    game = new_game()
    with pytest.raises(RuleError):
        game.submit(A(select=fs({"elsewhere"})))
    with pytest.raises(RuleError):
        game.submit(A(deselect=fs({IMAGES[0]})))  # not selected: callers must clean
    assert game.turn == 0 and game.selection == fs()  # failed submits change nothing


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(targets=IMAGES[:2], context=IMAGES),
        dict(targets=IMAGES[:6], context=IMAGES),
        dict(targets=[IMAGES[0], IMAGES[0], IMAGES[1]], context=IMAGES),
        dict(targets=("x", "y", "z"), context=IMAGES),
        dict(targets=IMAGES[:3], context=IMAGES[:9]),
        dict(targets=IMAGES[:3], context=IMAGES[:9] + (IMAGES[0],)),
        dict(targets=IMAGES[:3], context=IMAGES, selection={"x"}),
        dict(targets=IMAGES[:3], context=IMAGES, turn=11),
        dict(targets=IMAGES[:3], context=IMAGES, turn=MAX_TURNS),  # over but no outcome
        dict(targets=IMAGES[:3], context=IMAGES, turn=2, selection=IMAGES[:3]),  # won, no outcome
        dict(targets=IMAGES[:3], context=IMAGES, turn=2, outcome="success"),
        dict(targets=IMAGES[:3], context=IMAGES, turn=3, outcome="turn_limit"),
        dict(targets=IMAGES[:3], context=IMAGES, outcome="draw"),
    ],
)
def test_game_state_validation(kwargs):
    with pytest.raises(RuleError):
        GameState(**kwargs)


@settings(max_examples=200)
@given(
    st.integers(min_value=3, max_value=5),
    st.permutations(IMAGES),
    # "win" plays the winning move, so successful games are generated too.
    st.lists(st.one_of(st.just("win"), st.lists(st.sampled_from(IMAGES), max_size=4)), min_size=1, max_size=14),
)
def test_game_invariants(k, shuffled, moves):
    targets = fs(shuffled[:k])
    game = GameState(targets=targets, context=fs(IMAGES))
    for move in moves:
        if move == "win":
            action = action_between(game.selection, targets)
        else:
            action = Action.from_toggles(move, game.selection)
        if game.is_over:
            with pytest.raises(RuleError):
                game.submit(action)
            break
        turn_before = game.turn
        result = game.submit(action)
        assert game.turn == turn_before + 1 <= MAX_TURNS
        assert game.selection <= game.context
        assert result.correct | result.wrong == result.selection_after
        assert result.correct <= targets and not (result.wrong & targets)
        won = game.selection == targets
        assert (game.outcome == "success") == won
        assert result.ended == (won or game.turn == MAX_TURNS)
        assert (game.outcome == "turn_limit") == (not won and game.turn == MAX_TURNS)
        # A stored state can be rebuilt from its fields.
        assert GameState(game.targets, game.context, game.selection, game.turn, game.outcome) == game
