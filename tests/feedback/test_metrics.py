"""Decoder scores from (label, truth) pairs."""
import pytest

from feedback.domain.metrics import MISSING, evaluate, format_evaluation

P, U, N, X = "positive", "neutral", "negative", "unparsed"


def test_precision_recall_f1_confusion_and_coverage():
    pairs = (
        [(P, P)] * 8 + [(P, N)] * 2  # 10 predicted positive, 8 right
        + [(N, N)] * 5 + [(N, P)] * 1 + [(U, N)] * 1
        + [(X, P)] * 1 + [(None, N)] * 2
        + [(P, None)] * 5  # no truth: not counted
    )
    ev = evaluate(pairs)
    assert (ev.total, ev.labelled, ev.unparsed, ev.missing) == (20, 17, 1, 2)
    assert ev.coverage == pytest.approx(17 / 20)
    pos, neg, neu = ev.per_class[P], ev.per_class[N], ev.per_class[U]
    assert pos.precision == pytest.approx(0.8) and pos.recall == pytest.approx(8 / 9)
    assert pos.f1 == pytest.approx(2 * 0.8 * (8 / 9) / (0.8 + 8 / 9))
    assert (pos.support, pos.predicted) == (9, 10)
    assert neg.precision == pytest.approx(5 / 6) and neg.recall == pytest.approx(5 / 8)
    assert neu.precision == 0.0 and neu.recall is None and neu.f1 is None  # no neutral truth
    assert ev.confusion[N] == {P: 2, U: 1, N: 5, X: 0, MISSING: 2}
    assert ev.confusion[P][X] == 1
    assert ev.accuracy == pytest.approx(13 / 17)
    text = "\n".join(format_evaluation(ev))
    assert "positive" in text and "0.800" in text and "85.0%" in text


def test_empty_and_unpredicted_classes():
    ev = evaluate([])
    assert ev.total == 0 and ev.coverage is None and ev.accuracy is None
    assert ev.per_class[P].precision is None
    only_missing = evaluate([(None, P), (None, N)])
    assert only_missing.coverage == 0 and only_missing.per_class[P].recall is None


def test_unknown_values_are_errors():
    with pytest.raises(ValueError, match="truth"):
        evaluate([(P, "yes")])
    with pytest.raises(ValueError, match="label"):
        evaluate([("maybe", P)])
