"""The people population (people.py, geometry.py): speakers that talk like people, calibrated to real
MultiRef transcripts, whose descriptions are true of the figures and whom the simulated listener follows."""
import math
import re

import pytest

from games.domain import rules
from games.domain.language import REAL_REFERENCE, realism_stats, tokenize
from games.domain.tangrams import STANDARD_PIECES, TangramFigure
from games.simulation import ListenerTurn, SimulatedHumanListener, generated_games, play_game
from games.simulation.agents.geometry import figure_facts, pieces_of, read_facts, say_fact
from games.simulation.agents.people import PeopleSpeaker, draw_idiolect
from games.simulation.agents.speaker import SpeakerStyle, build_speaker

PEOPLE = SpeakerStyle(population="people")


@pytest.fixture(scope="module")
def people_games():
    """300 games of the people population on generated contexts (as the realism report plays them)."""
    return generated_games(300, PEOPLE, seed=11)


def _rotated(poly, angle, dx=0.0, dy=0.0):
    c, s = math.cos(angle), math.sin(angle)
    return tuple((x * c - y * s + dx, x * s + y * c + dy) for x, y in poly)


def test_the_people_population_is_reproducible_under_its_seed(contexts):
    one = [t.utterance for t in play_game(contexts[3], PEOPLE, None, 5).turns]
    again = [t.utterance for t in play_game(contexts[3], PEOPLE, None, 5).turns]
    other = [t.utterance for t in play_game(contexts[3], PEOPLE, None, 6).turns]
    assert one == again and one != other
    assert isinstance(build_speaker(contexts[3], PEOPLE, seed=1), PeopleSpeaker)
    assert draw_idiolect(4) == draw_idiolect(4) and draw_idiolect(4) != draw_idiolect(5)


def test_speakers_have_idiolects_and_name_the_same_figure_differently(contexts):
    context = contexts[0]
    firsts = {build_speaker(context, PEOPLE, seed=seed).first_move().text.lower() for seed in range(20)}
    assert len(firsts) >= 15
    voices = [draw_idiolect(seed) for seed in range(50)]
    assert len({v.approvals for v in voices}) >= 45 and len({v.undo_verbs for v in voices}) >= 5
    assert min(v.verbosity for v in voices) < 0.3 < 0.8 < max(v.verbosity for v in voices)


def test_a_big_triangle_pointing_down_is_read_off_the_polygons():
    # The standard set, pieces apart; the first big triangle turned so that its right angle is at the bottom.
    pieces = [_rotated(p, 0.0, 3.0 * i, 0.0) for i, p in enumerate(STANDARD_PIECES)]
    pieces[0] = _rotated(STANDARD_PIECES[0], math.pi / 4, 0.0, 0.0)  # right angle (0,0) now under the hypotenuse
    pieces[0] = tuple((x, -y + 3.0) for x, y in pieces[0])  # flip vertically (SVG y down): the corner points down
    figure = TangramFigure(tuple(pieces))
    big = [p for p in pieces_of(figure) if p.token == "bigtri"]
    assert "bottom" in {p.points for p in big}
    facts = figure_facts(figure)
    assert "tri:big:bottom" in facts and "tri:any:bottom" in facts
    import random
    said = say_fact("tri:big:bottom", random.Random(3), figure)
    assert {"tri:big:bottom", "tri:any:bottom"} & read_facts(said), said


def test_what_a_people_speaker_says_about_a_figure_is_true_of_it(contexts):
    """Every fact a description was built from is true of the figure it describes, and so is (nearly) every
    fact the words say to a reader (``read_facts``: pieces, directions, regions, relations, counts, things)."""
    wrong = total = 0
    for seed, context in enumerate(contexts[:120]):
        for turn in play_game(context, SpeakerStyle(population="people", typo_rate=0.0), None, seed).turns:
            for info in turn.intent.details.get("descriptions", []):
                truth = figure_facts(context.figures[info["image"]])
                assert info["facts"] and set(info["facts"]) <= truth, info
                read = {f for f in read_facts(info["phrase"]) if not f.startswith("letter:")}
                total += 1
                wrong += bool(read - truth)
    assert total > 400 and wrong / total <= 0.02, (wrong, total)


def test_cue_rates_and_lengths_are_within_tolerance_of_people(people_games):
    stats = realism_stats([[t.utterance for t in g.turns] for g in people_games])
    data = stats.to_dict()
    for key in ("approval", "negation", "undo", "plain", "geometry", "ordinal", "back_reference", "letter",
                "one_word", "fifteen_plus"):
        ratio = data[key] / REAL_REFERENCE[key]
        assert 1 / 1.5 <= ratio <= 1.5, (key, data[key], REAL_REFERENCE[key])
    for key in ("try_again", "partial", "reset"):  # rare: a few hundred games give a few events
        assert data[key] <= 3 * REAL_REFERENCE[key], (key, data[key])
    assert data["try_again"] + data["partial"] + data["reset"] > 0
    assert abs(data["mean_length"] - REAL_REFERENCE["mean_length"]) <= 1.5
    assert abs(data["first_mean_length"] - REAL_REFERENCE["first_mean_length"]) <= 1.5


def test_the_vocabulary_is_open_and_grows_with_the_games(people_games):
    def types(games):
        return {w for g in games for t in g.turns for w in tokenize(t.utterance)}

    people, fewer = types(people_games), types(people_games[:100])
    plain = types(generated_games(100, SpeakerStyle(), seed=11))
    assert len(fewer) < len(people) and len(people) >= 700
    assert len(fewer) >= 3 * len(plain)


def test_the_listener_follows_people_and_the_speaker_records_its_intent_truthfully(people_games):
    success = sum(g.success for g in people_games) / len(people_games)
    assert success >= 0.8
    consistent = total = 0
    for game in people_games:
        for turn in game.turns[1:]:
            intent = turn.intent
            assert intent.feedback in ("positive", "neutral", "negative")
            total += 1
            consistent += intent.details["perceived_quality"] == intent.previous_action_quality
            if intent.move in ("approve_next", "silent_next", "approve_fix", "silent_fix"):
                assert intent.feedback == "positive" and intent.details["perceived_quality"] == "GOOD"
            if intent.move in ("correct", "undo", "rephrase", "try_again", "keep", "reset"):
                assert intent.feedback == "negative"
    assert consistent / total >= 0.95


def test_people_refer_back_to_picks_and_the_listener_follows(contexts):
    context = contexts[0]
    images = list(context.images)
    listener = SimulatedHumanListener(images, context.figures, accuracy=1.0, seed=0)
    history = [ListenerTurn("x", rules.Action(select=frozenset({images[0]}))),
               ListenerTurn("y", rules.Action(select=frozenset({images[1]}))),
               ListenerTurn("z", rules.Action(select=frozenset({images[2]})))]
    selection = frozenset(images[:3])
    assert listener.act("yes, now remove the second one you picked", selection, history).deselect == {images[1]}
    assert listener.act("uncheck the one you just selected", selection, history).deselect == {images[2]}
    assert listener.act("get rid of that one", selection, history).deselect == {images[2]}


def test_the_plain_and_shifted_words_state_no_people_facts(contexts):
    """The listener's people reading never fires on the other populations: their games are unchanged."""
    for pop in ("plain", "shifted"):
        for seed, context in enumerate(contexts[:60]):
            for turn in play_game(context, SpeakerStyle(population=pop), None, seed).turns:
                assert not read_facts(re.sub(r"[^a-z' ]", " ", turn.utterance.lower())), turn.utterance


def test_style_settings_that_differ_from_the_defaults_steer_the_people_population(contexts):
    none = generated_games(40, SpeakerStyle(population="people", typo_rate=0.0, approve_rate=0.0), seed=2)
    moves = {t.intent.move for g in none for t in g.turns}
    assert "approve_next" not in moves and "silent_next" in moves
    assert not any(t.intent.details.get("typo") for g in none for t in g.turns)


def test_people_words_are_never_repaired_into_other_plain_words():
    """The listener repairs typos towards the plain vocabulary; a people word is never mistaken for another
    one ("three" is not "tree", "lower" is not "tower"): it stays, or it is a known name of its own class."""
    from games.simulation.agents.describe import normalise
    from games.simulation.agents.geometry import DIRECTION_WORDS, PARTS, POSES, REGION_WORDS, SIZE_WORDS, THINGS
    from games.simulation.agents.people import phrase_words
    from games.simulation.agents.populations import canonical

    words = set(phrase_words())
    for table in (THINGS, POSES, PARTS, SIZE_WORDS, DIRECTION_WORDS, REGION_WORDS):
        words |= {w for phrases in table.values() for p in phrases for w in p.split()}
    for word in sorted(w for w in words if re.fullmatch(r"[a-z]+", w)):
        assert normalise(word) in (word, canonical(word)), word
