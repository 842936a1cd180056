"""Speaker populations: idiolects drawn per speaker, feedback words untouched, understood by the listener."""
import re

import pytest

from games.simulation import play_game
from games.simulation.agents.populations import ALTERNATIVES, POPULATIONS, Population, canonical, speak_idiolect
from games.simulation.agents.speaker import SpeakerStyle, StyleError, build_speaker

WORD = re.compile(r"[a-z]+")


def words_of(games):
    return {w for g in games for t in g.turns for w in WORD.findall(t.utterance.lower())}


def test_an_idiolect_is_drawn_per_speaker_and_reproducible():
    shifted = POPULATIONS["shifted"]
    one, again, other = shifted.idiolect(1), shifted.idiolect(1), shifted.idiolect(2)
    assert one == again and one != other
    assert all(one[plain] in ALTERNATIVES[plain] for plain in one)
    sizes = [len(shifted.idiolect(seed)) for seed in range(200)]
    share = sum(sizes) / (200 * len(ALTERNATIVES))
    assert share == pytest.approx(1 - shifted.keep, abs=0.03)
    assert POPULATIONS["plain"].idiolect(1) == {}


def test_speaking_an_idiolect_replaces_whole_phrases_only():
    idiolect = {"bird": "crow", "pointy top": "sharp top", "tall": "long"}
    assert speak_idiolect("no, the tall bird with a pointy top", idiolect) == "no, the long crow with a sharp top"
    assert speak_idiolect("birdhouse, tallish", idiolect) == "birdhouse, tallish"


def test_canonical_reads_every_populations_words_as_the_plain_ones():
    assert canonical("the long crow with a sharp top") == "the tall bird with a pointy top"
    alternatives = [a for alts in ALTERNATIVES.values() for a in alts]
    assert len(alternatives) == len(set(alternatives))  # unambiguous
    assert not set(alternatives) & set(ALTERNATIVES)  # no alternative is a plain phrase


def test_the_style_names_a_known_population():
    assert SpeakerStyle(population="shifted").population == "shifted"
    with pytest.raises(StyleError, match="unknown speaker population 'martian'"):
        SpeakerStyle.from_dict({"population": "martian"})
    with pytest.raises(ValueError, match="keep must be a probability"):
        Population("odd", keep=1.5)


def test_shifted_speakers_use_other_words_keep_feedback_words_and_are_understood(contexts):
    plain = [play_game(c, SpeakerStyle(typo_rate=0), None, seed) for seed, c in enumerate(contexts[:60])]
    shifted = [play_game(c, SpeakerStyle(typo_rate=0, population="shifted"), None, seed)
               for seed, c in enumerate(contexts[:60])]
    new_words = words_of(shifted) - words_of(plain)
    assert len(new_words) >= 20 and new_words <= {w for a in ALTERNATIVES.values() for p in a for w in p.split()}
    # The simulated human listener copes with both populations alike.
    assert sum(g.success for g in shifted) >= sum(g.success for g in plain) - 3
    # Feedback is said the same way: the moves behind the utterances do not depend on the population.
    feedback_words = {"no", "undo", "yes", "again", "nope"}
    assert feedback_words & words_of(shifted) == feedback_words & words_of(plain)


def test_build_speaker_gives_the_plain_population_the_plain_speaker(contexts):
    context = contexts[0]
    plain = build_speaker(context, SpeakerStyle(), seed=3).first_move().text
    shifted = build_speaker(context, SpeakerStyle(population="shifted"), seed=3).first_move()
    assert canonical(shifted.text) == canonical(plain)  # the same move, said another way
