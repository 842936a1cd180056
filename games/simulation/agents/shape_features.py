"""Visual attributes of a tangram figure, computed from its seven polygons (pure; no Django).

The figure is rasterised on a grid scaled by the size of one tan unit (so a figure reads the same
at any scale, generated or imported), and measured the way a person glances at a silhouette:

- its proportions (``tall`` / ``wide``) and how solid it is (filled area over convex hull area);
- what sticks out where: the parts that a disc about as wide as a small tan cannot reach from the
  body (a morphological opening), grouped into connected parts, each with a compass direction
  from the figure's centre;
- which way it faces (where the upper part leans), whether it is mirror-symmetric, pointy on top,
  flat at the bottom, heavier on one side, whether it has holes;
- a figurative shape class (``person``, ``bird``, ``boat``, ...) chosen from those measurements by
  fixed rules, so the same figure always gets the same name and similar silhouettes get similar
  names.

Everything here is a deterministic function of the polygons; coordinates follow SVG (y down), so
"top" is what a viewer sees on top.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw
from shapely.geometry import MultiPoint

from games.domain.tangrams import TangramFigure

# Grid resolution: pixels per tan unit (the small triangle's leg; the seven tans cover 8 unit^2).
PX_PER_UNIT = 10
_MARGIN_PX = 3
_OFFSET_PX = _MARGIN_PX + 0.137
# The opening disc: parts thinner than this (in tan units) count as sticking out.
OPENING_RADIUS_UNITS = 0.75
# For thin figures (little body left after the opening) a thinner disc finds the limbs instead.
THIN_OPENING_RADIUS_UNITS = 0.45
MIN_BODY_SHARE = 0.25
MIN_PROTRUSION_AREA = 0.45  # unit^2 (a small triangle is 0.5)
MAX_PROTRUSIONS = 3
MIN_HOLE_AREA = 0.12  # unit^2

DIRECTIONS = ("right", "bottom right", "bottom", "bottom left", "left", "top left", "top", "top right")

SHAPE_NAMES = (
    "person", "dancer", "rocket", "tree", "tower", "snake", "horse", "dog", "swan", "boat", "fish",
    "arrow", "crab", "bird", "house", "cat", "duck", "table", "mushroom", "boot", "block",
)


@dataclass(frozen=True)
class Protrusion:
    direction: str  # one of DIRECTIONS, as seen by a viewer
    area: float  # unit^2
    reach: float  # distance of its tip from the figure's centre, in tan units


@dataclass(frozen=True)
class ShapeFeatures:
    width: float  # bounding box, tan units
    height: float
    aspect: float  # height / width
    solidity: float  # filled area / convex hull area
    protrusions: tuple[Protrusion, ...]  # largest first
    holes: int
    symmetry: float  # IoU of the silhouette with its left-right mirror image
    lean: float  # where the upper part sits relative to the centre, -1 (left) .. 1 (right)
    top_width: float  # width of the top band over the widest row (small: pointy top)
    bottom_width: float  # width of the bottom band over the widest row (large: flat bottom)
    mass_x: float  # centroid offset from the bbox centre, in widths (-0.5 left .. 0.5 right)
    mass_y: float  # centroid offset from the bbox centre, in heights (-0.5 top .. 0.5 bottom)

    # -- discrete readings (the words are chosen from these) -----------------------------------

    @property
    def proportion(self) -> str:
        if self.aspect >= 1.35:
            return "tall"
        if self.aspect <= 1 / 1.35:
            return "wide"
        return "squat"

    @property
    def facing(self) -> str | None:
        if self.lean <= -0.12:
            return "left"
        if self.lean >= 0.12:
            return "right"
        return None

    @property
    def is_symmetric(self) -> bool:
        return self.symmetry >= 0.82

    @property
    def is_pointy_top(self) -> bool:
        return self.top_width <= 0.3

    @property
    def is_flat_bottom(self) -> bool:
        return self.bottom_width >= 0.6

    @property
    def is_solid(self) -> bool:
        return self.solidity >= 0.8

    @property
    def heavy_side(self) -> str | None:
        if self.mass_y <= -0.08:
            return "top"
        if self.mass_y >= 0.08:
            return "bottom"
        return None

    def sticking_out(self) -> tuple[str, ...]:
        """Distinct directions of the protrusions, largest first."""
        seen: list[str] = []
        for p in self.protrusions:
            if p.direction not in seen:
                seen.append(p.direction)
        return tuple(seen)

    @property
    def shape_name(self) -> str:
        return shape_name(self)


def _rasterise(figure: TangramFigure) -> tuple[np.ndarray, float]:
    """Boolean silhouette (rows = y down) and the pixels per figure coordinate."""
    unit = math.sqrt(figure.total_area() / 8.0)
    scale = PX_PER_UNIT / unit
    minx, miny, maxx, maxy = figure.bounds()
    width = int(math.ceil((maxx - minx) * scale)) + 2 * _MARGIN_PX
    height = int(math.ceil((maxy - miny) * scale)) + 2 * _MARGIN_PX
    image = Image.new("1", (width, height), 0)
    draw = ImageDraw.Draw(image)
    for poly in figure.pieces:
        # A fraction-of-a-pixel offset keeps the many axis-aligned tan edges off pixel centres,
        # where float noise (from scaling or moving the figure) would flip whole rows.
        draw.polygon([((x - minx) * scale + _OFFSET_PX, (y - miny) * scale + _OFFSET_PX) for x, y in poly], fill=1)
    return np.array(image, dtype=bool), scale


def _disc(radius: float) -> list[tuple[int, int]]:
    r = int(math.ceil(radius))
    return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dx * dx + dy * dy <= radius * radius]


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = mask[ys, xs]
    return out


def _erode(mask: np.ndarray, offsets) -> np.ndarray:
    out = np.ones_like(mask)
    for dy, dx in offsets:
        out &= _shift(mask, dy, dx)
    return out


def _dilate(mask: np.ndarray, offsets) -> np.ndarray:
    out = np.zeros_like(mask)
    for dy, dx in offsets:
        out |= _shift(mask, dy, dx)
    return out


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected components, each as an array of (row, col) pixels."""
    h, w = mask.shape
    seen = np.zeros_like(mask)
    found = []
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        stack = [start]
        seen[start] = True
        pixels = []
        while stack:
            y, x = stack.pop()
            pixels.append((y, x))
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        found.append(np.array(pixels))
    return found


def _direction(dx: float, dy: float) -> str:
    # Screen coordinates: y down, so "bottom" is +y. Sector 0 is "right", going clockwise.
    angle = math.atan2(dy, dx)
    sector = int(round(angle / (math.pi / 4))) % 8
    return DIRECTIONS[sector]


compass_direction = _direction  # public: the compass word (DIRECTIONS) of a screen vector (y down)


def _band_width(mask: np.ndarray, rows: slice) -> float:
    band = mask[rows]
    cols = np.nonzero(band.any(axis=0))[0]
    return float(cols[-1] - cols[0] + 1) if len(cols) else 0.0


@lru_cache(maxsize=4096)
def shape_features(figure: TangramFigure) -> ShapeFeatures:
    """The figure's visual attributes (cached: figures are immutable and hashable)."""
    mask, scale = _rasterise(figure)
    px_area = 1.0 / (PX_PER_UNIT * PX_PER_UNIT)  # unit^2 per pixel
    ys, xs = np.nonzero(mask)
    top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
    height_px, width_px = bottom - top + 1, right - left + 1
    cy, cx = ys.mean(), xs.mean()

    points = [pt for poly in figure.pieces for pt in poly]
    hull_area = MultiPoint(points).convex_hull.area * scale * scale
    solidity = min(1.0, float(mask.sum()) / hull_area) if hull_area > 0 else 1.0

    # What sticks out: pixels the opening disc cannot reach.
    total = float(mask.sum())
    for radius in (OPENING_RADIUS_UNITS, THIN_OPENING_RADIUS_UNITS):
        disc = _disc(radius * PX_PER_UNIT)
        opened = _dilate(_erode(mask, disc), disc)
        if opened.sum() >= MIN_BODY_SHARE * total:
            break
    by, bx = np.nonzero(opened)
    body_y, body_x = (by.mean(), bx.mean()) if len(by) else (cy, cx)
    protrusions = []
    for pixels in _components(mask & ~opened):
        area = len(pixels) * px_area
        if area < MIN_PROTRUSION_AREA:
            continue
        py, px = pixels[:, 0].mean(), pixels[:, 1].mean()
        tip = np.hypot(pixels[:, 0] - body_y, pixels[:, 1] - body_x).max() / PX_PER_UNIT
        protrusions.append(Protrusion(_direction(px - body_x, py - body_y), round(area, 3), round(float(tip), 3)))
    protrusions.sort(key=lambda p: (-p.area, p.direction))
    protrusions = protrusions[:MAX_PROTRUSIONS]

    # Holes: background regions that do not reach the border.
    holes = 0
    for pixels in _components(~mask):
        if len(pixels) * px_area < MIN_HOLE_AREA:
            continue
        if (pixels[:, 0].min() == 0 or pixels[:, 1].min() == 0 or pixels[:, 0].max() == mask.shape[0] - 1
                or pixels[:, 1].max() == mask.shape[1] - 1):
            continue
        holes += 1

    box = mask[top:bottom + 1, left:right + 1]
    mirrored = box[:, ::-1]
    symmetry = float((box & mirrored).sum()) / float((box | mirrored).sum())

    upper = box[: max(1, int(round(height_px * 0.4)))]
    uy, ux = np.nonzero(upper)
    lean = (ux.mean() + left - cx) / (width_px / 2.0) if len(ux) else 0.0

    widest = max(_band_width(box, slice(r, r + 1)) for r in range(height_px))
    band = max(1, int(round(height_px * 0.15)))
    top_width = _band_width(box, slice(0, band)) / widest
    bottom_width = _band_width(box, slice(height_px - max(1, int(round(height_px * 0.06))), height_px)) / widest

    return ShapeFeatures(
        width=round(width_px / PX_PER_UNIT, 3),
        height=round(height_px / PX_PER_UNIT, 3),
        aspect=round(height_px / width_px, 3),
        solidity=round(solidity, 3),
        protrusions=tuple(protrusions),
        holes=holes,
        symmetry=round(symmetry, 3),
        lean=round(float(lean), 3),
        top_width=round(top_width, 3),
        bottom_width=round(bottom_width, 3),
        mass_x=round(float((cx - left) / width_px - 0.5), 3),
        mass_y=round(float((cy - top) / height_px - 0.5), 3),
    )


def shape_name(f: ShapeFeatures) -> str:
    """A figurative name from fixed rules over the measurements: proportions first, then what sticks
    out up (a head, a neck, ears), down (legs, fins) or sideways (a tail)."""
    out = f.sticking_out()
    n = len(out)
    ups = [d for d in out if d.startswith("top")]
    downs = [d for d in out if d.startswith("bottom")]
    if f.proportion == "tall":
        if ups and downs:
            return "dancer" if len(downs) >= 2 or n >= 3 else "person"
        if downs:
            return "rocket"
        if ups:
            return "tree" if f.heavy_side == "top" or len(ups) >= 2 else "person"
        return "tower"
    if f.proportion == "wide":
        if f.aspect <= 0.45 and not f.is_solid and n >= 2:
            return "snake"
        if ups and downs:
            return "horse"
        if downs:
            return "dog"
        if ups:
            return "swan"
        if f.is_flat_bottom:
            return "boat"
        return "fish" if n else "arrow"
    # squat
    if ups and downs:
        return "crab" if n >= 3 else "bird"
    if ups:
        if f.is_pointy_top and f.is_solid:
            return "house"
        return "cat" if len(ups) >= 2 else "duck"
    if downs:
        return "table" if len(downs) >= 2 else ("mushroom" if downs[0] == "bottom" else "boot")
    if n:
        return "fish"
    return "house" if f.is_pointy_top else "block"
