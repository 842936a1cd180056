import pytest

from games.domain.stats import bootstrap_ci, summarise


def test_the_interval_brackets_the_mean_and_shrinks_with_more_data():
    small = bootstrap_ci([0, 1] * 10, seed=1)
    large = bootstrap_ci([0, 1] * 500, seed=1)
    assert small.low <= small.mean == 0.5 <= small.high
    assert large.high - large.low < small.high - small.low


def test_constant_values_have_a_point_interval_and_the_summary_reads_well():
    summary = summarise([(True, 1)] * 5)
    assert (summary.success.low, summary.success.high) == (1.0, 1.0)
    assert "5 games: success 100.0%" in summary.line()


def test_nothing_to_summarise_is_an_error():
    with pytest.raises(ValueError):
        summarise([])
