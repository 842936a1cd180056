"""Our tangram similarity: silhouette IoU after normalising, best over the 8 symmetries of the square."""
import math

import pytest

from games.domain.similarity import (
    FigureSimilarity, SimilarityError, action_similarity, figure_similarity, set_similarity,
)
from games.domain.tangrams import STANDARD_PIECES, TangramFigure, generate_figures


@pytest.fixture(scope="module")
def figures():
    return generate_figures(6, 5)


def transformed(figure, fn):
    return TangramFigure(tuple(tuple(fn(x, y) for x, y in piece) for piece in figure.pieces))


def test_a_figure_is_identical_to_itself(figures):
    for figure in figures:
        assert figure_similarity(figure, figure) == pytest.approx(1.0)


@pytest.mark.parametrize("name, fn", [
    ("quarter turn, moved and scaled", lambda x, y: (-3 * y + 10, 3 * x - 4)),
    ("half turn", lambda x, y: (-x, -y)),
    ("mirror image", lambda x, y: (-x + 2, y)),
    ("mirror of a quarter turn, shrunk", lambda x, y: (0.5 * y, 0.5 * x + 7)),
])
def test_similarity_ignores_position_size_rotation_and_reflection(figures, name, fn):
    for figure in figures[:3]:
        assert figure_similarity(figure, transformed(figure, fn)) == pytest.approx(1.0, abs=1e-9), name


def test_different_figures_are_less_alike_and_the_measure_is_symmetric(figures):
    a, others = figures[0], figures[1:]
    scores = [figure_similarity(a, b) for b in others]
    assert all(0.0 < s < 0.95 for s in scores)
    assert [figure_similarity(b, a) for b in others] == pytest.approx(scores)


def test_a_thin_bar_and_a_compact_square_hardly_overlap():
    # Seven pieces in a row (a long bar) against the standard square arrangement's pieces packed tight.
    bar = TangramFigure(tuple(tuple((x + 3 * i, y) for x, y in piece) for i, piece in enumerate(STANDARD_PIECES)))
    square = TangramFigure(tuple(tuple((x + 0.5 * (i % 2), y + 0.5 * (i // 2)) for x, y in piece)
                                 for i, piece in enumerate(STANDARD_PIECES)))
    assert figure_similarity(bar, square) < 0.35


def test_set_similarity_is_a_soft_f1():
    sim = {("a", "b"): 0.5, ("a", "c"): 0.2, ("b", "c"): 0.4}

    def lookup(x, y):
        return 1.0 if x == y else sim[tuple(sorted((x, y)))]

    assert set_similarity([], [], lookup) is None
    assert set_similarity(["a"], [], lookup) == 0.0
    assert set_similarity(["a", "b"], ["b", "a"], lookup) == 1.0
    # predicted {a}, gold {b, c}: precision = max(0.5, 0.2) = 0.5; recall = (0.5 + 0.2) / 2 = 0.35
    assert set_similarity(["a"], ["b", "c"], lookup) == pytest.approx((0.5 + 0.35) / 2)


def test_action_similarity_counts_deselections():
    def lookup(x, y):
        return 1.0 if x == y else 0.5

    # The same selections; the model forgot the gold deselection: the deselect part scores 0.
    score = action_similarity({"a"}, set(), {"a"}, {"d"}, lookup)
    assert score == pytest.approx((2 * 1.0 + 1 * 0.0) / 3)
    assert action_similarity({"a"}, {"d"}, {"a"}, {"d"}, lookup) == 1.0
    assert action_similarity(set(), set(), set(), set(), lookup) == 1.0
    # A wrong deselection weighs like a wrong selection.
    assert action_similarity(set(), {"x"}, set(), {"y"}, lookup) == action_similarity({"x"}, set(), {"y"}, set(), lookup)


def test_named_figures_are_cached_and_unknown_names_are_an_error(figures):
    similarity = FigureSimilarity({"f0": figures[0], "f1": figures[1]})
    assert similarity("f0", "f0") == 1.0
    assert similarity("f0", "f1") == pytest.approx(figure_similarity(figures[0], figures[1]))
    assert similarity("f1", "f0") == similarity("f0", "f1")
    with pytest.raises(SimilarityError, match="no figure for image 'nope'"):
        similarity("f0", "nope")
    assert not math.isnan(similarity("f1", "f1"))
