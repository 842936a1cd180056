"""Tests for games.domain.tangrams (pure Python, no Django)."""

from __future__ import annotations

import math
import time
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from games.domain.tangrams import (
    KIND_AREA_RATIOS,
    PIECE_KINDS,
    STANDARD_PIECES,
    STANDARD_TOTAL_AREA,
    TangramError,
    TangramFigure,
    check_layout,
    classify_pieces,
    figure_key,
    generate_figure,
    generate_figures,
    is_valid_layout,
)


def unit_square(x: float, y: float) -> tuple[tuple[float, float], ...]:
    return ((x, y), (x + 1, y), (x + 1, y + 1), (x, y + 1))


def row_of_squares(last: tuple[tuple[float, float], ...] | None = None) -> TangramFigure:
    """Six unit squares edge to edge along x, plus a seventh piece."""
    pieces = [unit_square(float(i), 0.0) for i in range(6)]
    pieces.append(last if last is not None else unit_square(6.0, 0.0))
    return TangramFigure(tuple(pieces))


def transformed(figure: TangramFigure, scale: float, dx: float, dy: float) -> TangramFigure:
    return TangramFigure(
        tuple(tuple((x * scale + dx, y * scale + dy) for x, y in p) for p in figure.pieces)
    )


# -- the value type ----------------------------------------------------------


def test_standard_pieces_have_standard_areas() -> None:
    figure = TangramFigure(STANDARD_PIECES)
    assert figure.total_area() == pytest.approx(STANDARD_TOTAL_AREA)
    assert classify_pieces(figure) == PIECE_KINDS


def test_figure_requires_seven_pieces() -> None:
    with pytest.raises(TangramError, match="7 pieces"):
        TangramFigure(STANDARD_PIECES[:6])


@pytest.mark.parametrize(
    "bad_piece, message",
    [
        (((0.0, 0.0), (1.0, 0.0)), "vertices"),
        (((0, 0), (1, 0), (2, 0), (3, 0), (4, 1)), "vertices"),
        (((0.0, 0.0), (1.0, 0.0), (2.0, 0.0)), "zero area"),
        (((0.0, 0.0), (math.nan, 0.0), (0.0, 1.0)), "finite"),
        (((0.0, 0.0), (math.inf, 0.0), (0.0, 1.0)), "finite"),
        (((0.0, 0.0), (2.0, 1.0), (2.0, 0.0), (0.0, 2.0)), "self-intersecting"),
        (((0.0, 0.0), ("1", 0.0), (0.0, 1.0)), "numbers"),
        (((0.0, 0.0), (True, 0.0), (0.0, 1.0)), "numbers"),
        (((0.0, 0.0), (1e200, 0.0), (0.0, -1e200)), "too large"),
    ],
)
def test_figure_rejects_bad_pieces(bad_piece: object, message: str) -> None:
    with pytest.raises(TangramError, match=message):
        TangramFigure((bad_piece,) + STANDARD_PIECES[1:])  # type: ignore[operator]


def test_bounds_normalized_and_area() -> None:
    figure = transformed(TangramFigure(STANDARD_PIECES), 3.0, 10.0, -5.0)
    minx, miny, maxx, maxy = figure.bounds()
    assert (minx, miny) == (10.0, -5.0)
    norm = figure.normalized()
    nminx, nminy, nmaxx, nmaxy = norm.bounds()
    assert (nminx, nminy) == (0.0, 0.0)
    assert max(nmaxx, nmaxy) == pytest.approx(1.0)
    # Aspect ratio kept.
    assert nmaxx / nmaxy == pytest.approx((maxx - minx) / (maxy - miny))
    assert norm.total_area() == pytest.approx(figure.total_area() / (maxx - minx) ** 2)


def test_numpy_scalars_are_accepted() -> None:
    pieces = [tuple((np.float32(x), np.int64(round(y))) for x, y in p) for p in row_of_squares().pieces]
    figure = TangramFigure(tuple(pieces))
    assert figure == row_of_squares()
    assert all(type(v) is float for p in figure.pieces for pt in p for v in pt)


def test_lists_are_normalised_to_tuples_and_hashable() -> None:
    figure = TangramFigure([[list(p) for p in poly] for poly in STANDARD_PIECES])  # type: ignore[arg-type]
    assert figure == TangramFigure(STANDARD_PIECES)
    assert hash(figure) == hash(TangramFigure(STANDARD_PIECES))


# -- JSON --------------------------------------------------------------------


def test_json_round_trip() -> None:
    figure = generate_figure(3)
    data = figure.to_json()
    assert len(data) == 7 and all(isinstance(v, float) for p in data for pt in p for v in pt)
    again = TangramFigure.from_json(data)
    assert again.to_json() == data
    for poly_a, poly_b in zip(figure.pieces, again.pieces):
        for (xa, ya), (xb, yb) in zip(poly_a, poly_b):
            assert abs(xa - xb) <= 5e-5 and abs(ya - yb) <= 5e-5


def test_json_rounds_to_four_decimals() -> None:
    pieces = list(STANDARD_PIECES)
    pieces[0] = ((0.123456, -0.0000001), (2.0, 0.0), (0.0, 2.0))
    data = TangramFigure(tuple(pieces)).to_json()
    assert data[0][0] == [0.1235, 0.0]
    assert math.copysign(1.0, data[0][0][1]) == 1.0  # no "-0.0"


@pytest.mark.parametrize("seed", range(30))
def test_round_tripped_figures_keep_a_valid_layout(seed: int) -> None:
    # Rounding to 4 decimals must not create overlaps or break edge contacts.
    figure = TangramFigure.from_json(generate_figure(seed).to_json())
    check_layout(figure)
    assert classify_pieces(figure) == PIECE_KINDS


_GOOD = [[list(pt) for pt in poly] for poly in STANDARD_PIECES]


@pytest.mark.parametrize(
    "data",
    [
        None,
        "figure",
        {"pieces": _GOOD},
        [],
        _GOOD[:6],
        _GOOD + [_GOOD[0]],
        ["abc"] + _GOOD[1:],
        [[[0, 0], [1, 0]]] + _GOOD[1:],
        [[[0, 0], [1, 0], [0, 1], [1, 1], [2, 2]]] + _GOOD[1:],
        [[[0, 0], [1, 0], [0]]] + _GOOD[1:],
        [[[0, 0], [1, 0], [0, 1, 2]]] + _GOOD[1:],
        [[[0, 0], [1, 0], "01"]] + _GOOD[1:],
        [[[0, 0], [1, 0], ["0", "1"]]] + _GOOD[1:],
        [[[0, 0], [1, 0], [0, None]]] + _GOOD[1:],
        [[[0, 0], [1, 0], [0, True]]] + _GOOD[1:],
        [[[0, 0], [1, 0], [0, math.nan]]] + _GOOD[1:],
        [[[0, 0], [1, 0], [0, math.inf]]] + _GOOD[1:],
        [[[0, 0], [1, 0], [0, 10**400]]] + _GOOD[1:],
        [[[0, 0], [1, 0], [0, 1e308 * 10]]] + _GOOD[1:],
        [[[[0, 0]], [1, 0], [0, 1]]] + _GOOD[1:],
        [[[0, 0], [1, 0], [2, 0]]] + _GOOD[1:],
        [[0, 0, 1]] + _GOOD[1:],
        [_GOOD],
    ],
)
def test_from_json_rejects_malformed(data: object) -> None:
    with pytest.raises(TangramError):
        TangramFigure.from_json(data)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
    lambda children: st.lists(children, max_size=8)
    | st.dictionaries(st.text(max_size=2), children, max_size=3),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_from_json_never_raises_anything_else(data: object) -> None:
    try:
        TangramFigure.from_json(data)
    except TangramError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.floats(-10, 10), st.floats(-10, 10)), min_size=3, max_size=4),
        min_size=7,
        max_size=7,
    )
)
def test_from_json_on_random_polygons(polys: list[list[tuple[float, float]]]) -> None:
    data = [[list(pt) for pt in poly] for poly in polys]
    try:
        figure = TangramFigure.from_json(data)
    except TangramError:
        return
    # Whatever is accepted can be serialised and checked without surprises.
    assert len(figure.to_json()) == 7
    is_valid_layout(figure)


# -- piece kinds -------------------------------------------------------------


def test_classify_pieces_any_order_and_scale() -> None:
    base = generate_figure(11)
    order = [6, 3, 0, 5, 2, 4, 1]
    shuffled = TangramFigure(tuple(base.pieces[i] for i in order))
    for figure in (shuffled, transformed(shuffled, 250.0, -40.0, 7.0)):
        assert classify_pieces(figure) == tuple(PIECE_KINDS[i] for i in order)


def test_classify_tolerates_small_area_errors() -> None:
    pieces = list(STANDARD_PIECES)
    pieces[3] = ((0.0, 0.0), (1.04, 0.0), (0.0, 1.0))  # 4% too big
    assert classify_pieces(TangramFigure(tuple(pieces))) == PIECE_KINDS


def test_classify_rejects_non_standard_sets() -> None:
    with pytest.raises(TangramError, match="standard"):
        classify_pieces(row_of_squares())
    pieces = list(STANDARD_PIECES)
    pieces[3] = ((0.0, 0.0), (1.5, 0.0), (0.0, 1.0))  # small triangle 50% too big
    with pytest.raises(TangramError):
        classify_pieces(TangramFigure(tuple(pieces)))


# -- layout checks -----------------------------------------------------------


def test_row_of_squares_is_a_valid_layout() -> None:
    check_layout(row_of_squares())
    assert is_valid_layout(row_of_squares())


def test_partial_edge_contact_connects() -> None:
    # The seventh square sits on top of square 6, shifted by half a side.
    check_layout(row_of_squares(unit_square(5.5, -1.0)))


def test_overlap_is_detected() -> None:
    figure = row_of_squares(unit_square(4.5, 0.5))
    with pytest.raises(TangramError, match="overlap"):
        check_layout(figure)
    assert not is_valid_layout(figure)


def test_tiny_overlap_below_tolerance_is_ignored_but_large_tolerance_works() -> None:
    overlapping = row_of_squares(unit_square(5.9, 0.0))  # 0.1 x 1 overlap
    with pytest.raises(TangramError, match="overlap"):
        check_layout(overlapping)
    check_layout(overlapping, tolerance=0.05)  # 0.1 / 7 of the area is below 5%


def test_disconnected_figure_is_detected() -> None:
    figure = row_of_squares(unit_square(10.0, 10.0))
    with pytest.raises(TangramError, match="not connected"):
        check_layout(figure)


def test_corner_contact_counts_as_disconnected() -> None:
    # Touches square 6 only at the corner (6, 1).
    figure = row_of_squares(unit_square(6.0, 1.0))
    with pytest.raises(TangramError, match="not connected"):
        check_layout(figure)
    # Diagonal corner contact with a rotated square (a diamond) as well.
    diamond = ((6.0, 0.5), (6.5, 0.0), (7.0, 0.5), (6.5, 1.0))
    with pytest.raises(TangramError, match="not connected"):
        check_layout(row_of_squares(diamond))


def test_generated_piece_moved_away_or_onto_another_fails() -> None:
    figure = generate_figure(5)
    pieces = list(figure.pieces)
    pieces[6] = tuple((x + 5.0, y) for x, y in pieces[6])
    with pytest.raises(TangramError, match="not connected"):
        check_layout(TangramFigure(tuple(pieces)))
    pieces = list(figure.pieces)
    cx = sum(x for x, _ in pieces[0]) / 3 - sum(x for x, _ in pieces[5]) / 4
    cy = sum(y for _, y in pieces[0]) / 3 - sum(y for _, y in pieces[5]) / 4
    pieces[5] = tuple((x + cx, y + cy) for x, y in pieces[5])  # square onto a large triangle
    with pytest.raises(TangramError, match="overlap"):
        check_layout(TangramFigure(tuple(pieces)))


# -- generator ---------------------------------------------------------------


@pytest.mark.parametrize("seed", list(range(60)) + [2**40 + 17, -3])
def test_generated_figures_are_standard_valid_layouts(seed: int) -> None:
    figure = generate_figure(seed)
    assert classify_pieces(figure) == PIECE_KINDS  # canonical order
    assert Counter(classify_pieces(figure)) == Counter(PIECE_KINDS)
    check_layout(figure)
    # Normalized: at the origin, longer side 1.
    minx, miny, maxx, maxy = figure.bounds()
    assert (minx, miny) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert max(maxx, maxy) == pytest.approx(1.0)
    # Total area matches the standard set, piece by piece.
    total = figure.total_area()
    for poly, kind in zip(figure.pieces, PIECE_KINDS):
        area = abs(TangramFigure((poly,) * 7).total_area() / 7)
        assert area / total == pytest.approx(KIND_AREA_RATIOS[kind] / 16, rel=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=-(2**63), max_value=2**63), st.floats(0.01, 1000), st.floats(-1e3, 1e3))
def test_generated_layouts_stay_valid_when_scaled_and_moved(seed: int, scale: float, shift: float) -> None:
    figure = transformed(generate_figure(seed), scale, shift, -shift)
    check_layout(figure)
    assert classify_pieces(figure) == PIECE_KINDS


def test_generation_is_deterministic() -> None:
    assert generate_figure(123) == generate_figure(123)
    assert generate_figure(123).to_json() == generate_figure(123).to_json()


def test_different_seeds_give_different_figures() -> None:
    keys = {figure_key(generate_figure(seed)) for seed in range(40)}
    assert len(keys) == 40


def test_generate_figures_is_prefix_stable_and_distinct() -> None:
    long = generate_figures(30, seed=9)
    assert generate_figures(10, seed=9) == long[:10]
    assert generate_figures(0, seed=9) == []
    assert len({figure_key(f) for f in long}) == 30
    assert generate_figures(10, seed=10) != long[:10]


def test_generate_figures_rejects_negative_count() -> None:
    with pytest.raises(ValueError):
        generate_figures(-1, seed=0)


def test_generated_figures_are_varied() -> None:
    figures = generate_figures(50, seed=2024)
    aspects = []
    fill = []
    for figure in figures:
        minx, miny, maxx, maxy = figure.bounds()
        aspects.append((maxx - minx) / (maxy - miny))
        fill.append(figure.total_area() / ((maxx - minx) * (maxy - miny)))
    # Some wide, some tall ...
    assert min(aspects) < 0.7 and max(aspects) > 1.45
    assert max(aspects) / min(aspects) > 2.5
    # ... some compact, some with protruding parts (little of the bbox filled).
    assert max(fill) > 0.5 and min(fill) < 0.35


def test_generation_is_fast() -> None:
    start = time.perf_counter()
    for seed in range(40):
        generate_figure(10_000 + seed)
    mean = (time.perf_counter() - start) / 40
    assert mean < 0.05, f"mean generation time {mean * 1000:.1f} ms"
