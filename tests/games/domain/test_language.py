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
