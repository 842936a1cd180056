"""Tests for games.domain.kilogram_svg (pure Python, no Django).

All fixtures are built here; the research-licensed KILOGRAM files are only
read in place by the last test, when they exist on this machine.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from games.domain.kilogram_svg import (
    MAX_SVG_BYTES,
    KilogramFormatError,
    kilogram_name,
    parse_kilogram_svg,
    parse_transform,
)
from games.domain.tangrams import TangramFigure

SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'

# Seven simple pieces (not a real tangram; the importer checks structure only).
PIECES = [
    "0,0 10,0 0,10",
    "10,0 20,0 10,10",
    "20,0 30,0 20,10",
    "30,0 40,0 30,10",
    "40,0 50,0 40,10",
    "50,0 60,0 60,10 50,10",
    "60,0 70,0 80,10 70,10",
]


def polygon(pid: str, points: str, extra: str = "") -> str:
    return f'<polygon id="{pid}" points="{points}" fill="lightgray" stroke="white"{extra}/>'


def document(polygons: list[str] | None = None, head: str = SVG_OPEN, prolog: str = "") -> str:
    if polygons is None:
        polygons = [polygon(str(i + 1), pts) for i, pts in enumerate(PIECES)]
    return prolog + head + "<defs/>" + "".join(polygons) + "</svg>"


def with_piece(index: int, element: str) -> str:
    """The standard fixture with polygon ``index`` (0-based) replaced."""
    polygons = [polygon(str(i + 1), pts) for i, pts in enumerate(PIECES)]
    polygons[index] = element
    return document(polygons)


def assert_points(actual: tuple[tuple[float, float], ...], expected: list[tuple[float, float]]) -> None:
    assert len(actual) == len(expected)
    for (ax, ay), (ex, ey) in zip(actual, expected):
        assert ax == pytest.approx(ex, abs=1e-9) and ay == pytest.approx(ey, abs=1e-9)


# -- accepted formats --------------------------------------------------------


def test_comma_separated_points() -> None:
    figure = parse_kilogram_svg(document())
    assert isinstance(figure, TangramFigure)
    assert_points(figure.pieces[0], [(0, 0), (10, 0), (0, 10)])
    assert_points(figure.pieces[6], [(60, 0), (70, 0), (80, 10), (70, 10)])


def test_space_separated_points_with_negatives_and_exponents() -> None:
    text = with_piece(0, polygon("1", "109.933 35.423 147.463 -2.107\n184.993 3.5423e1"))
    expected = [(109.933, 35.423), (147.463, -2.107), (184.993, 35.423)]
    assert_points(parse_kilogram_svg(text).pieces[0], expected)


def test_compact_number_lists() -> None:
    # SVG allows "1-2" (two numbers) and mixed separators.
    text = with_piece(0, polygon("1", "0-0 , 10,0  0 10"))
    assert_points(parse_kilogram_svg(text).pieces[0], [(0, 0), (10, 0), (0, 10)])


def test_bytes_with_xml_declaration_and_no_namespace() -> None:
    text = document(head='<svg viewBox="0 0 1 1">', prolog='<?xml version="1.0" encoding="utf-8"?>\n')
    figure = parse_kilogram_svg(text.encode("utf-8"))
    assert_points(figure.pieces[1], [(10, 0), (20, 0), (10, 10)])


def test_polygons_are_returned_in_id_order() -> None:
    polygons = [polygon(str(i + 1), pts) for i, pts in enumerate(PIECES)]
    figure = parse_kilogram_svg(document(list(reversed(polygons))))
    assert_points(figure.pieces[0], [(0, 0), (10, 0), (0, 10)])
    assert len(figure.pieces[5]) == 4


def test_closed_ring_repeating_first_point_is_accepted() -> None:
    text = with_piece(0, polygon("1", "0,0 10,0 0,10 0,0"))
    assert_points(parse_kilogram_svg(text).pieces[0], [(0, 0), (10, 0), (0, 10)])


def test_irrelevant_elements_are_ignored() -> None:
    text = document(
        [
            "<title>a tangram</title>",
            '<defs><polygon id="1" points="0,0 1,0 0,1"/></defs>',
            '<rect x="0" y="0" width="5" height="5" style="fill:red"/>',
            "<!-- a comment -->",
        ]
        + [polygon(str(i + 1), pts, ' style=""') for i, pts in enumerate(PIECES)]
    )
    assert_points(parse_kilogram_svg(text).pieces[0], [(0, 0), (10, 0), (0, 10)])


# -- transforms --------------------------------------------------------------


def test_matrix_transform_is_applied() -> None:
    a, b, c, d, e, f = 0.529919, 0.848048, -0.848048, 0.529919, 99.35997, -108.40406
    extra = f' transform="matrix({a}, {b}, {c}, {d}, {e}, {f})"'
    text = with_piece(0, polygon("1", "109.933 35.423 147.463 -2.107 184.993 35.423 147.463 72.953", extra))
    points = [(109.933, 35.423), (147.463, -2.107), (184.993, 35.423), (147.463, 72.953)]
    expected = [(a * x + c * y + e, b * x + d * y + f) for x, y in points]
    got = parse_kilogram_svg(text).pieces[0]
    assert_points(got, expected)
    # Spot check the first point: x' = 58.2556 - 30.0404 + 99.3600, y' = 93.2285 + 18.7713 - 108.4041.
    assert got[0][0] == pytest.approx(127.5752, abs=1e-3)
    assert got[0][1] == pytest.approx(3.5957, abs=1e-3)


def test_transform_list_composes_right_to_left() -> None:
    # "translate(10,20) scale(2)": scale first, then translate.
    text = with_piece(0, polygon("1", "0,0 1,0 1,1", ' transform="translate(10,20) scale(2)"'))
    assert_points(parse_kilogram_svg(text).pieces[0], [(10, 20), (12, 20), (12, 22)])
    # And the other order.
    text = with_piece(0, polygon("1", "0,0 1,0 1,1", ' transform="scale(2),translate(10 20)"'))
    assert_points(parse_kilogram_svg(text).pieces[0], [(20, 40), (22, 40), (22, 42)])


def test_rotate_with_and_without_centre() -> None:
    text = with_piece(0, polygon("1", "1,0 2,0 1,1", ' transform="rotate(90)"'))
    assert_points(parse_kilogram_svg(text).pieces[0], [(0, 1), (0, 2), (-1, 1)])
    # rotate(180, 5, 5) maps (x, y) to (10 - x, 10 - y).
    text = with_piece(0, polygon("1", "1,0 2,0 1,1", ' transform="rotate(180 5 5)"'))
    assert_points(parse_kilogram_svg(text).pieces[0], [(9, 10), (8, 10), (9, 9)])


def test_scale_one_argument_skews_and_translate_one_argument() -> None:
    text = with_piece(0, polygon("1", "0,0 1,0 0,1", ' transform="translate(5) scale(3)"'))
    assert_points(parse_kilogram_svg(text).pieces[0], [(5, 0), (8, 0), (5, 3)])
    text = with_piece(0, polygon("1", "0,0 1,0 0,1", ' transform="skewX(45)"'))
    assert_points(parse_kilogram_svg(text).pieces[0], [(0, 0), (1, 0), (1, 1)])
    text = with_piece(0, polygon("1", "0,0 1,0 0,1", ' transform="skewY(45)"'))
    assert_points(parse_kilogram_svg(text).pieces[0], [(0, 0), (1, 1), (0, 1)])


def test_nested_group_transforms_compose() -> None:
    inner = polygon("1", "0,0 1,0 0,1", ' transform="scale(2)"')
    group = f'<g transform="translate(100, 0)"><g transform="rotate(90)">{inner}</g></g>'
    polygons = [group] + [polygon(str(i + 1), pts) for i, pts in enumerate(PIECES)][1:]
    # Scale, then rotate 90 degrees, then translate.
    assert_points(parse_kilogram_svg(document(polygons)).pieces[0], [(100, 0), (100, 2), (98, 0)])


def test_parse_transform_empty_is_identity() -> None:
    assert parse_transform("") == (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    assert parse_transform("  ") == (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "transform",
    ["rotate(1,2)", "foo(1)", "matrix(1,2,3)", "translate(1,2", "scale()", "translate(a)", "scale(1) x",
     "translate(1e999)", "matrix(1e300,0,0,1e300,0,0) scale(1e300)"],
)
def test_bad_transforms_are_rejected(transform: str) -> None:
    text = with_piece(0, polygon("1", "0,0 1,0 0,1", f' transform="{transform}"'))
    with pytest.raises(KilogramFormatError):
        parse_kilogram_svg(text)


# -- rejected files ----------------------------------------------------------


def test_missing_polygon() -> None:
    polygons = [polygon(str(i + 1), pts) for i, pts in enumerate(PIECES)][:6]
    with pytest.raises(KilogramFormatError, match="missing id.*7"):
        parse_kilogram_svg(document(polygons))


def test_duplicate_id() -> None:
    with pytest.raises(KilogramFormatError, match="duplicate polygon id '1'"):
        parse_kilogram_svg(with_piece(1, polygon("1", "0,0 1,0 0,1")))


def test_unexpected_ids() -> None:
    for pid in ("8", "0", " 1", "one"):
        with pytest.raises(KilogramFormatError, match="unexpected polygon id"):
            parse_kilogram_svg(with_piece(6, polygon(pid, "0,0 1,0 0,1")))
    with pytest.raises(KilogramFormatError, match="no id"):
        parse_kilogram_svg(with_piece(6, '<polygon points="0,0 1,0 0,1"/>'))


def test_eight_polygons() -> None:
    polygons = [polygon(str(i + 1), pts) for i, pts in enumerate(PIECES)] + [polygon("8", "0,0 1,0 0,1")]
    with pytest.raises(KilogramFormatError, match="'8'"):
        parse_kilogram_svg(document(polygons))


@pytest.mark.parametrize(
    "points, message",
    [
        ("0,0 1,0 0", "odd number"),
        ("0,0 1,0", "at least 3"),
        ("", "at least 3"),
        ("0,0 1,0 x,1", "unparsable"),
        ("0,0 1,0 nan,1", "unparsable"),
        ("0,0 1,0 inf,1", "unparsable"),
        ("0,0 1e999,0 0,1", "non-finite"),
        ("0,0 1,0 2,0", "zero area"),
        ("0,0 1e200,0 0,1e200", "too large"),
        ("0,0 1,0 1,1 0,1 -1,0.5", "vertices"),
    ],
)
def test_bad_point_lists(points: str, message: str) -> None:
    with pytest.raises(KilogramFormatError, match=message):
        parse_kilogram_svg(with_piece(2, polygon("3", points)))


def test_degenerate_transform_gives_zero_area() -> None:
    with pytest.raises(KilogramFormatError, match="zero area"):
        parse_kilogram_svg(with_piece(2, polygon("3", "0,0 1,0 0,1", ' transform="scale(1,0)"')))


@pytest.mark.parametrize(
    "data, message",
    [
        ("", "empty"),
        (b"", "empty"),
        ("   \n", "empty"),
        ("this is not xml at all", "XML"),
        (b"\x00\xff\xfe garbage", "XML"),
        ("<svg xmlns='http://www.w3.org/2000/svg'>", "XML"),
        ('<?xml version="1.0"?><html><polygon id="1"/></html>', "not <svg>"),
        ('<svg xmlns="http://example.com/not-svg"/>', "not <svg>"),
    ],
)
def test_not_an_svg(data: str | bytes, message: str) -> None:
    with pytest.raises(KilogramFormatError, match=message):
        parse_kilogram_svg(data)


def test_wrong_argument_type() -> None:
    with pytest.raises(KilogramFormatError):
        parse_kilogram_svg(None)  # type: ignore[arg-type]


def test_huge_file_is_rejected_before_parsing() -> None:
    padding = "<!--" + "x" * MAX_SVG_BYTES + "-->"
    with pytest.raises(KilogramFormatError, match="too large"):
        parse_kilogram_svg(document(prolog=padding))


def test_billion_laughs_is_rejected_not_expanded() -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    text = f'<?xml version="1.0"?><!DOCTYPE svg [{entities}]>' + document(
        [polygon("1", "0,0 1,0 0,1", ' class="&lol9;"')]
        + [polygon(str(i + 1), pts) for i, pts in enumerate(PIECES)][1:]
    )
    with pytest.raises(KilogramFormatError, match="forbidden"):
        parse_kilogram_svg(text)


def test_external_entity_is_rejected() -> None:
    text = (
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + document([polygon("1", "&xxe;")] + [polygon(str(i + 1), pts) for i, pts in enumerate(PIECES)][1:])
    )
    with pytest.raises(KilogramFormatError, match="forbidden"):
        parse_kilogram_svg(text)


def test_deep_nesting_is_handled() -> None:
    depth = 5000
    inner = polygon("1", "0,0 1,0 0,1")
    nested = '<g transform="translate(1)">' * depth + inner + "</g>" * depth
    polygons = [nested] + [polygon(str(i + 1), pts) for i, pts in enumerate(PIECES)][1:]
    try:
        figure = parse_kilogram_svg(document(polygons))
    except KilogramFormatError:
        return  # the parser may refuse; it must not crash
    assert figure.pieces[0][0] == pytest.approx((depth, 0))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_arbitrary_input_only_raises_format_errors(data: str | bytes) -> None:
    try:
        parse_kilogram_svg(data)
    except KilogramFormatError:
        pass


_FRAGMENTS = st.sampled_from(
    [
        "<g>", "</g>", '<g transform="', '">', "<polygon ", "/>", 'id="', '"', "points=", "transform=",
        "1", "7", "8", ",", " ", "-", ".", "e", "matrix(", "rotate(", ")", "1e308", "0", "<svg>", "</svg>",
        "<defs>", "</defs>", "&amp;", "&#0;", "&x;",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=40), st.integers(0, 6))
def test_mutated_documents_only_raise_format_errors(fragments: list[str], index: int) -> None:
    text = with_piece(index, "".join(fragments))
    try:
        figure = parse_kilogram_svg(text)
    except KilogramFormatError:
        return
    assert len(figure.pieces) == 7
    assert all(math.isfinite(v) for p in figure.pieces for pt in p for v in pt)


# -- names -------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename, name",
    [
        ("page7-218.svg", "page7-218"),
        ("tangrams/page-A.svg", "page-A"),
        ("C:\\data\\page1-0.svg", "page1-0"),
        ("page2-0", "page2-0"),
    ],
)
def test_kilogram_name(filename: str, name: str) -> None:
    assert kilogram_name(filename) == name


def test_kilogram_name_rejects_empty() -> None:
    with pytest.raises(KilogramFormatError):
        kilogram_name("dir/")


# -- a local copy of the dataset, read in place when present -----------------

SAMPLE_DIR = Path(os.environ.get("KILOGRAM_SAMPLE_DIR", "/work/shared/data/kilogram-sample/tangrams"))


def test_all_local_kilogram_samples_parse() -> None:
    files = sorted(SAMPLE_DIR.glob("*.svg")) if SAMPLE_DIR.is_dir() else []
    if not files:
        pytest.skip(f"no KILOGRAM sample files in {SAMPLE_DIR}")
    for path in files:
        figure = parse_kilogram_svg(path.read_bytes())
        assert len(figure.pieces) == 7, path.name
        assert kilogram_name(path.name) == path.stem
