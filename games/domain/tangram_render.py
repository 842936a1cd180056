"""Render tangram figures as standalone SVG text or as PNG bytes.

Pure Python (Pillow for PNG); no Django imports. Both outputs are
deterministic for the same input so they can be cached and compared.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw

from games.domain.tangrams import TangramFigure

SVG_NS = "http://www.w3.org/2000/svg"
MARGIN_RATIO = 0.05  # of the longer bbox side, on every side
_SUPERSAMPLE = 4

RGB = tuple[int, int, int]


def _fmt(value: float) -> str:
    """Fixed formatting: at most 4 decimals, no trailing zeros, no '-0'."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def render_svg(
    figure: TangramFigure,
    *,
    fill: str = "#1d2330",
    seam: str = "#f4f1ea",
    seam_width_ratio: float = 0.008,
    title: str | None = None,
) -> str:
    """A standalone SVG document: seven dark polygons with thin light seams."""
    minx, miny, maxx, maxy = figure.bounds()
    extent = max(maxx - minx, maxy - miny)
    margin = MARGIN_RATIO * extent
    view_box = " ".join(
        _fmt(v)
        for v in (minx - margin, miny - margin, maxx - minx + 2 * margin, maxy - miny + 2 * margin)
    )
    stroke_width = _fmt(seam_width_ratio * extent)
    lines = [
        f'<svg xmlns="{SVG_NS}" viewBox="{view_box}" width="100%" height="100%" '
        'preserveAspectRatio="xMidYMid meet">'
    ]
    if title is not None:
        lines.append(f"<title>{escape(title)}</title>")
    lines.append(
        f"<g fill={quoteattr(fill)} stroke={quoteattr(seam)} "
        f'stroke-width="{stroke_width}" stroke-linejoin="round">'
    )
    for index, poly in enumerate(figure.pieces, start=1):
        points = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in poly)
        lines.append(f'<polygon id="{index}" points="{points}"/>')
    lines.append("</g>")
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


def render_png(
    figure: TangramFigure,
    *,
    size: int = 224,
    background: RGB = (255, 255, 255),
    fill: RGB = (29, 35, 48),
    seam: RGB = (244, 241, 234),
) -> bytes:
    """An RGB PNG of size x size, figure centred with a 5% margin, anti-aliased."""
    if size < 1:
        raise ValueError("size must be positive")
    big = size * _SUPERSAMPLE
    minx, miny, maxx, maxy = figure.bounds()
    extent = max(maxx - minx, maxy - miny)
    scale = big * (1 - 2 * MARGIN_RATIO) / extent
    # Centre the bbox in the canvas (keeps the aspect ratio).
    ox = (big - (maxx - minx) * scale) / 2 - minx * scale
    oy = (big - (maxy - miny) * scale) / 2 - miny * scale
    seam_px = max(1, round(0.008 * big * (1 - 2 * MARGIN_RATIO)))

    image = Image.new("RGB", (big, big), tuple(background))
    draw = ImageDraw.Draw(image)
    polys = [[(x * scale + ox, y * scale + oy) for x, y in poly] for poly in figure.pieces]
    for pts in polys:
        draw.polygon(pts, fill=tuple(fill))
    # Seams after all fills so a later piece never covers an earlier seam.
    for pts in polys:
        draw.line(pts + [pts[0]], fill=tuple(seam), width=seam_px, joint="curve")
    image = image.resize((size, size), Image.Resampling.LANCZOS)

    buffer = io.BytesIO()
    # Fixed options and no metadata chunks: same input, same bytes.
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
