import pytest

from games.domain.language import RESET_PHRASES, TRY_AGAIN_PHRASES, count_phrases, language_stats, tokenize


def test_tokens_are_lowercased_alphanumeric_runs():
    assert tokenize("Don't click the 2nd one, OK?") == ["dont", "click", "the", "2nd", "one", "ok"]


def test_phrases_count_occurrences_as_whole_words():
    texts = ["Please RESET. then start   over", "try again! try again", "the other one", "preset others"]
    assert count_phrases(texts, RESET_PHRASES) == 2  # "preset" is not "reset"
    assert count_phrases(texts, TRY_AGAIN_PHRASES) == 3


def test_language_stats_of_a_small_corpus():
    stats = language_stats(["the bird", "the other one", "", "  "])
    assert stats.utterances == 2
    assert stats.tokens == 5
    assert stats.vocabulary == 4  # the, bird, other, one
    assert stats.mean_length == 2.5
    assert stats.type_token_ratio == 0.8
    assert stats.try_again_mentions == 1 and stats.reset_mentions == 0
    assert language_stats([]).mean_length is None


# --- the realism report's detectors and figures (issue P10) ---------------------------------------------

from games.domain.language import REAL_REFERENCE, detect, realism_stats, realism_table  # noqa: E402


@pytest.mark.parametrize("text, found", [
    ("yes! now the boat", {"approval"}),
    ("ok good, next the one like a letter L", {"approval", "letter"}),
    ("nope, that's wrong", {"negation"}),
    ("don't click the duck", {"negation"}),
    ("uncheck the second one you picked", {"undo", "ordinal", "back_reference"}),
    ("de-select that", {"undo"}),
    ("take the swan off", {"undo"}),
    ("try again", {"try_again"}),
    ("the other one", {"try_again"}),
    ("half right", {"partial", "approval"}),
    ("one of them is correct", {"partial"}),
    ("clear all and start over", {"reset"}),
    ("the big triangle pointing down", {"plain", "geometry"}),
    ("a diamond on top of a parallelogram", {"plain", "geometry"}),
    ("3 total, the boat", {"plain", "ordinal"}),
    ("the fourth one", {"plain", "ordinal"}),
    ("the first boat you selected earlier", {"plain", "ordinal", "back_reference"}),
    ("looks like an upside down v", {"plain", "letter", "geometry"}),
    ("the t shaped one", {"plain", "letter"}),
    ("a man with a hat", {"plain"}),  # "a" is an article, not a letter
])
def test_detectors_are_word_classes_over_general_language(text, found):
    assert {k for k, v in detect(text).items() if v} == found


def test_realism_stats_of_two_small_games():
    stats = realism_stats([["the boat", "yes, now the one like a letter L", "no"], ["a big triangle pointing up"]],
                          [True, False])
    assert (stats.games, stats.utterances, stats.follow_ups) == (2, 4, 2)
    assert stats.first_mean_length == 3.5 and stats.median_length == 3.5
    assert stats.one_word == 0.25 and stats.fifteen_plus == 0.0
    assert stats.cue_rates["approval"] == 0.5 and stats.cue_rates["negation"] == 0.5
    assert stats.category_rates["letter"] == 0.25 and stats.category_rates["geometry"] == 0.25
    assert stats.turns_per_game == 2.0 and stats.success == 0.5
    rows = {key: (ours, people) for key, ours, people in realism_table(stats)}
    assert rows["approval"] == ("50.0%", "37.0%") and rows["word_types"][1] == f"{REAL_REFERENCE['word_types']:,}"
    empty = realism_stats([])
    assert empty.mean_length is None and empty.cue_rates["approval"] is None
