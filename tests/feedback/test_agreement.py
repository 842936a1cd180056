"""The pure annotation rules: agreement statistics (textbook values), the stratified sample, gold actions
from clicks and the final label."""
import pytest

from feedback.domain.agreement import (
    Judgement,
    allocate,
    cohen_kappa,
    final_label,
    gold_action_from_clicks,
    krippendorff_alpha,
    percent_agreement,
    stratified_sample,
)

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: four observers, twelve
# units, missing values; nominal alpha = 0.743.
_ = None
OBSERVERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
]


def test_alpha_on_krippendorffs_reliability_data_example():
    units = [list(unit) for unit in zip(*OBSERVERS)]
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)


def test_alpha_takes_labels_and_uneven_units():
    # Strings instead of numbers, and units as short lists instead of padded rows: the same value.
    names = {1: "a", 2: "b", 3: "c", 4: "d", 5: "e"}
    units = [[names[v] for v in unit if v is not None] for unit in zip(*OBSERVERS)]
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)


def test_alpha_is_none_when_undefined():
    assert krippendorff_alpha([["positive"], ["negative"]]) is None  # nothing pairable
    assert krippendorff_alpha([["positive", "positive"], ["positive", "positive"]]) is None  # one value only
    assert krippendorff_alpha([["positive", "positive"], ["negative", "negative"]]) == pytest.approx(1.0)


def test_cohen_kappa_textbook_example():
    # Cohen's kappa, worked example (Wikipedia "Cohen's kappa"): 50 proposals, yes/yes 20, yes/no 5,
    # no/yes 10, no/no 15 -> p_o = 0.7, p_e = 0.5, kappa = 0.4.
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(first, second) == pytest.approx(0.4)
    assert cohen_kappa(["a", "b"], ["a", "b"]) == pytest.approx(1.0)
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None
    with pytest.raises(ValueError):
        cohen_kappa(["a"], ["a", "b"])


def test_percent_agreement():
    assert percent_agreement([["a", "a"], ["a", "b"], ["a"], ["b", "b", "b"]]) == pytest.approx(2 / 3)
    assert percent_agreement([["a"]]) is None


def test_allocation_is_proportional_with_a_minimum_per_stratum():
    sizes = {"1:A": 9, "1:B": 2, "2:A": 3, "2:B": 0}
    assert allocate(sizes, 6) == {"1:A": 4, "1:B": 1, "2:A": 1}
    assert allocate(sizes, 100) == {"1:A": 9, "1:B": 2, "2:A": 3}  # never more than a stratum holds
    assert sum(allocate(sizes, 2).values()) == 2  # too small for one per stratum: the largest get them
    assert allocate({"x": 1, "y": 1000}, 3) == {"x": 1, "y": 2}
    with pytest.raises(ValueError):
        allocate(sizes, 0)


def test_stratified_sample_is_seeded():
    strata = {"1:A": list(range(100)), "1:B": list(range(100, 120))}
    first = stratified_sample(strata, 12, seed=3)
    assert first == stratified_sample(strata, 12, seed=3)
    assert first != stratified_sample(strata, 12, seed=4)
    assert sorted(k for _, k in first).count("1:B") == 2  # 12 * 20/120
    assert len({item for item, _ in first}) == 12


def test_gold_action_from_clicks_follows_overwrite_clicks_with_ann():
    # Clicked images already selected become deselections, the others selections.
    assert gold_action_from_clicks(["c", "a", "d"], ["a", "b"]) == (["c", "d"], ["a"])
    assert gold_action_from_clicks([], ["a"]) == ([], [])


def test_final_label():
    agree = final_label([Judgement("positive", "yes", ("a",), ()), Judgement("positive", "yes", ("a",), ())])
    assert (agree.agreed, agree.feedback, agree.correctness, agree.gold_selected, agree.gold_deselected) == (
        True, "positive", "yes", ["a"], [])
    assert not agree.needs_adjudication
    gold_differs = final_label([Judgement("negative", "no", ("a",), ()), Judgement("negative", "no", None, None)])
    assert gold_differs.agreed and not gold_differs.gold_agreed and gold_differs.gold_selected is None
    assert gold_differs.needs_adjudication
    differ = final_label([Judgement("negative", "no"), Judgement("neutral", "no")])
    assert not differ.agreed and differ.feedback is None and differ.needs_adjudication
    single = final_label([Judgement("neutral", "partial")])
    assert single.agreed and single.gold_selected is None and not single.needs_adjudication
