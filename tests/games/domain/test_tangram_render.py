"""Tests for games.domain.tangram_render (pure Python, no Django)."""

from __future__ import annotations

import io
import re

import pytest
from defusedxml import ElementTree as SafeET
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from games.domain.kilogram_svg import parse_kilogram_svg
from games.domain.tangram_render import render_png, render_svg
from games.domain.tangrams import TangramFigure, generate_figure

NS = "{http://www.w3.org/2000/svg}"


def wide_figure() -> TangramFigure:
    """A generated figure stretched to twice its width, offset from the origin."""
    base = generate_figure(4)
    return TangramFigure(
        tuple(tuple((x * 200 + 30, y * 100 - 20) for x, y in p) for p in base.pieces)
    )


def dark_box(png: bytes) -> tuple[Image.Image, tuple[int, int, int, int]]:
    image = Image.open(io.BytesIO(png))
    mask = image.convert("L").point(lambda v: 255 if v < 128 else 0)
    box = mask.getbbox()
    assert box is not None, "no dark pixels"
    return image, box


# -- SVG ---------------------------------------------------------------------


def test_svg_is_a_standalone_document_with_seven_polygons() -> None:
    figure = generate_figure(1)
    text = render_svg(figure)
    root = SafeET.fromstring(text)
    assert root.tag == f"{NS}svg"
    assert root.get("width") == "100%" and root.get("height") == "100%"
    assert root.get("preserveAspectRatio") == "xMidYMid meet"
    polygons = list(root.iter(f"{NS}polygon"))
    assert [p.get("id") for p in polygons] == [str(i) for i in range(1, 8)]
    group = root.find(f"{NS}g")
    assert group is not None
    assert group.get("fill") == "#1d2330" and group.get("stroke") == "#f4f1ea"
    assert group.get("stroke-linejoin") == "round"
    assert float(group.get("stroke-width", "0")) == pytest.approx(0.008, abs=1e-4)
    assert root.find(f"{NS}title") is None


def test_svg_viewbox_has_margin_around_bbox() -> None:
    figure = wide_figure()
    minx, miny, maxx, maxy = figure.bounds()
    root = SafeET.fromstring(render_svg(figure))
    vx, vy, vw, vh = (float(v) for v in root.get("viewBox", "").split())
    margin = 0.05 * max(maxx - minx, maxy - miny)
    assert vx == pytest.approx(minx - margin, abs=1e-3)
    assert vy == pytest.approx(miny - margin, abs=1e-3)
    assert vw == pytest.approx(maxx - minx + 2 * margin, abs=1e-3)
    assert vh == pytest.approx(maxy - miny + 2 * margin, abs=1e-3)


def test_svg_colours_and_seam_width_options() -> None:
    figure = wide_figure()  # longer side 200
    root = SafeET.fromstring(render_svg(figure, fill="red", seam="blue", seam_width_ratio=0.01))
    group = root.find(f"{NS}g")
    assert group is not None
    assert (group.get("fill"), group.get("stroke")) == ("red", "blue")
    assert float(group.get("stroke-width", "0")) == pytest.approx(2.0)


def test_svg_title_is_escaped() -> None:
    title = 'A <b>"boat"</b> & </title><script>x</script>'
    text = render_svg(generate_figure(2), title=title)
    assert "<script>" not in text
    root = SafeET.fromstring(text)
    node = root.find(f"{NS}title")
    assert node is not None and node.text == title


@settings(max_examples=50, deadline=None)
@given(st.text())
def test_any_title_gives_well_formed_xml(title: str) -> None:
    # XML 1.0 cannot carry most control characters; skip those inputs.
    def xml_char(c: str) -> bool:
        o = ord(c)
        return (o >= 32 or c in "\t\n\r") and not 0xD800 <= o <= 0xDFFF and o not in (0xFFFE, 0xFFFF)

    if not all(xml_char(c) for c in title):
        return
    root = SafeET.fromstring(render_svg(generate_figure(2), title=title))
    node = root.find(f"{NS}title")
    assert node is not None
    # XML normalises \r\n and lone \r to \n.
    assert (node.text or "") == title.replace("\r\n", "\n").replace("\r", "\n")


def test_svg_is_deterministic_with_fixed_float_format() -> None:
    figure = generate_figure(8)
    text = render_svg(figure)
    assert text == render_svg(generate_figure(8))
    root = SafeET.fromstring(text)
    numbers = root.get("viewBox", "").split()
    for poly in root.iter(f"{NS}polygon"):
        for pair in poly.get("points", "").split():
            numbers.extend(pair.split(","))
    for number in numbers:
        # Plain decimals, at most 4 places, no exponent, no trailing zeros, no "-0".
        assert re.fullmatch(r"-?\d+(\.\d{0,3}[1-9])?", number), number
        assert number != "-0"


def test_svg_round_trips_through_the_kilogram_importer() -> None:
    figure = wide_figure()
    again = parse_kilogram_svg(render_svg(figure))
    for poly_a, poly_b in zip(figure.pieces, again.pieces):
        for (xa, ya), (xb, yb) in zip(poly_a, poly_b):
            assert abs(xa - xb) <= 5e-5 and abs(ya - yb) <= 5e-5


# -- PNG ---------------------------------------------------------------------


def test_png_is_a_224_rgb_image() -> None:
    png = render_png(generate_figure(1))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (224, 224)
    assert image.mode == "RGB"


def test_png_is_deterministic() -> None:
    assert render_png(generate_figure(6)) == render_png(generate_figure(6))
    assert render_png(generate_figure(6)) != render_png(generate_figure(7))


def test_png_has_dark_figure_on_light_background() -> None:
    image, _ = dark_box(render_png(generate_figure(3)))
    colours = image.getcolors(224 * 224) or []
    counts = {colour: n for n, colour in colours}
    assert counts.get((255, 255, 255), 0) > 224 * 224 // 10  # background
    assert counts.get((29, 35, 48), 0) > 224 * 224 // 50  # solid fill
    # Anti-aliasing leaves intermediate tones.
    assert len(counts) > 10


def test_png_figure_is_centred_with_margin_and_aspect_kept() -> None:
    figure = wide_figure()  # twice as wide as tall
    minx, miny, maxx, maxy = figure.bounds()
    image, (left, top, right, bottom) = dark_box(render_png(figure))
    assert abs((left + right) / 2 - 112) <= 2
    assert abs((top + bottom) / 2 - 112) <= 2
    # The longer side spans ~90% of the image (5% margin each side).
    assert 224 * 0.86 <= right - left <= 224 * 0.92
    assert left >= 224 * 0.04 and right <= 224 * 0.96
    assert (right - left) / (bottom - top) == pytest.approx((maxx - minx) / (maxy - miny), rel=0.05)


def test_png_has_seams_inside_the_figure() -> None:
    # Along the middle row, dark runs are interrupted by light seams.
    figure = generate_figure(12)
    image = Image.open(io.BytesIO(render_png(figure, size=448))).convert("L")
    light_inside = 0
    for y in range(0, 448, 4):
        row = [image.getpixel((x, y)) for x in range(448)]
        dark = [x for x, v in enumerate(row) if v < 100]
        if dark:
            light_inside += sum(1 for x in range(dark[0], dark[-1]) if row[x] > 150)
    assert light_inside > 0


def test_png_custom_size_and_colours() -> None:
    png = render_png(generate_figure(1), size=64, background=(0, 0, 0), fill=(255, 0, 0))
    image = Image.open(io.BytesIO(png))
    assert image.size == (64, 64)
    colours = {c for _, c in image.getcolors(64 * 64) or []}
    assert (0, 0, 0) in colours and (255, 0, 0) in colours
