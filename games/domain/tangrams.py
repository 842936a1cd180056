"""Tangram figures: the value type, layout checks and a seeded generator.

Pure Python (plus shapely for polygon overlap); no Django imports.

Units of the generator: the small triangle has legs 1 (area 0.5), the medium
triangle legs sqrt(2) (area 1), the large triangle legs 2 (area 2), the square
side 1 (area 1) and the parallelogram sides 1 and sqrt(2) (area 1), so the
seven tans have total area 8 and areas in the ratio 1:2:4:2:2
(small:medium:large:square:parallelogram). Coordinates follow the SVG
convention (y grows downwards).
"""

from __future__ import annotations

import math
import numbers
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import Polygon as _ShapelyPolygon

from games.domain.seeds import derive_seed

Point = tuple[float, float]
Polygon = tuple[Point, ...]

PIECE_COUNT = 7

# Canonical order of the pieces of generated figures.
PIECE_KINDS: tuple[str, ...] = (
    "large_triangle",
    "large_triangle",
    "medium_triangle",
    "small_triangle",
    "small_triangle",
    "square",
    "parallelogram",
)

# Area of each kind in units of the small triangle's area.
KIND_AREA_RATIOS: dict[str, float] = {
    "small_triangle": 1.0,
    "medium_triangle": 2.0,
    "large_triangle": 4.0,
    "square": 2.0,
    "parallelogram": 2.0,
}
_TOTAL_AREA_RATIO = sum(KIND_AREA_RATIOS[k] for k in PIECE_KINDS)  # 16 small triangles

_R2 = math.sqrt(2.0)

# The standard tans in generator units, in PIECE_KINDS order, with positive
# shoelace area (the generator relies on one consistent orientation).
STANDARD_PIECES: tuple[Polygon, ...] = (
    ((0.0, 0.0), (2.0, 0.0), (0.0, 2.0)),
    ((0.0, 0.0), (2.0, 0.0), (0.0, 2.0)),
    ((0.0, 0.0), (_R2, 0.0), (0.0, _R2)),
    ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)),
    ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)),
    ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)),
    ((0.0, 0.0), (1.0, 0.0), (2.0, 1.0), (1.0, 1.0)),
)
STANDARD_TOTAL_AREA = 8.0

# Geometry noise allowances, relative to the figure size (longer bbox side).
# They let figures that went through to_json() (4 decimals) still pass
# check_layout(); all are far below what is visible at any display size.
_OVERLAP_SHRINK_REL = 2.5e-4  # pieces shrink by this before the overlap test
_CONTACT_DIST_REL = 1e-3  # max gap between two edges that still "touch"
_CONTACT_LEN_REL = 5e-3  # min shared length; shorter counts as corner contact


class TangramError(ValueError):
    """A tangram figure is malformed or not a valid layout."""


def _signed_area(poly: Polygon) -> float:
    s = 0.0
    n = len(poly)
    for i in range(n):
        x0, y0 = poly[i]
        x1, y1 = poly[(i + 1) % n]
        s += x0 * y1 - x1 * y0
    return s / 2.0


def _orient(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Proper crossing of segments ab and cd (used to reject bow-tie quads)."""
    o1, o2 = _orient(a, b, c), _orient(a, b, d)
    o3, o4 = _orient(c, d, a), _orient(c, d, b)
    return o1 * o2 < 0 and o3 * o4 < 0


def _as_coordinate(value: Any, index: int) -> float:
    """A finite float from a real number (numpy scalars too), else TangramError."""
    # bool is an int subclass but never a coordinate.
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TangramError(f"piece {index}: coordinates must be numbers")
    try:
        result = float(value)
    except (OverflowError, ValueError):  # e.g. int(10**400)
        raise TangramError(f"piece {index}: coordinates must be finite") from None
    if not math.isfinite(result):
        raise TangramError(f"piece {index}: coordinates must be finite")
    return result


@dataclass(frozen=True)
class TangramFigure:
    """Seven tan polygons in SVG user coordinates (y down)."""

    pieces: tuple[Polygon, ...]

    def __post_init__(self) -> None:
        pieces = self.pieces
        if not isinstance(pieces, (tuple, list)):
            raise TangramError("pieces must be a sequence of 7 polygons")
        if len(pieces) != PIECE_COUNT:
            raise TangramError(f"a tangram figure has 7 pieces, got {len(pieces)}")
        clean: list[Polygon] = []
        for index, poly in enumerate(pieces, start=1):
            clean.append(_validate_polygon(poly, index))
        # Normalise lists to tuples so figures are hashable and comparable.
        object.__setattr__(self, "pieces", tuple(clean))

    # -- serialisation -------------------------------------------------
    def to_json(self) -> list[list[list[float]]]:
        return [[[_round4(x), _round4(y)] for x, y in poly] for poly in self.pieces]

    @classmethod
    def from_json(cls, data: Any) -> TangramFigure:
        if not isinstance(data, (list, tuple)):
            raise TangramError("figure JSON must be a list of 7 polygons")
        if len(data) != PIECE_COUNT:
            raise TangramError(f"figure JSON must have 7 polygons, got {len(data)}")
        pieces: list[Polygon] = []
        for index, poly in enumerate(data, start=1):
            if not isinstance(poly, (list, tuple)):
                raise TangramError(f"piece {index} must be a list of points")
            points: list[Point] = []
            for point in poly:
                if not isinstance(point, (list, tuple)) or len(point) != 2:
                    raise TangramError(f"piece {index}: each point must be a [x, y] pair")
                points.append((_as_coordinate(point[0], index), _as_coordinate(point[1], index)))
            pieces.append(tuple(points))
        return cls(tuple(pieces))

    # -- geometry ------------------------------------------------------
    def bounds(self) -> tuple[float, float, float, float]:
        xs = [x for poly in self.pieces for x, _ in poly]
        ys = [y for poly in self.pieces for _, y in poly]
        return min(xs), min(ys), max(xs), max(ys)

    def size(self) -> float:
        """The longer side of the bounding box."""
        minx, miny, maxx, maxy = self.bounds()
        return max(maxx - minx, maxy - miny)

    def normalized(self) -> TangramFigure:
        """Translated to the origin and scaled so the longer bbox side is 1."""
        minx, miny, _, _ = self.bounds()
        scale = 1.0 / self.size()
        return TangramFigure(
            tuple(
                tuple(((x - minx) * scale, (y - miny) * scale) for x, y in poly)
                for poly in self.pieces
            )
        )

    def total_area(self) -> float:
        return sum(abs(_signed_area(poly)) for poly in self.pieces)


def _round4(value: float) -> float:
    return round(value, 4) + 0.0  # + 0.0 turns -0.0 into 0.0


def _validate_polygon(poly: Any, index: int) -> Polygon:
    if not isinstance(poly, (tuple, list)):
        raise TangramError(f"piece {index} must be a sequence of points")
    if len(poly) not in (3, 4):
        raise TangramError(f"piece {index} has {len(poly)} vertices; tans have 3 or 4")
    points: list[Point] = []
    for point in poly:
        if not isinstance(point, (tuple, list)) or len(point) != 2:
            raise TangramError(f"piece {index}: each point must be an (x, y) pair")
        points.append((_as_coordinate(point[0], index), _as_coordinate(point[1], index)))
    result = tuple(points)
    xs = [p[0] for p in result]
    ys = [p[1] for p in result]
    extent = max(max(xs) - min(xs), max(ys) - min(ys))
    area = abs(_signed_area(result))
    if not (math.isfinite(extent) and math.isfinite(area) and math.isfinite(extent * extent)):
        raise TangramError(f"piece {index}: coordinates too large")
    # Relative threshold: float noise must not make a flat piece "positive".
    if extent == 0.0 or area <= 1e-12 * extent * extent:
        raise TangramError(f"piece {index} has zero area")
    if len(result) == 4:
        a, b, c, d = result
        if _segments_cross(a, b, c, d) or _segments_cross(b, c, d, a):
            raise TangramError(f"piece {index} is self-intersecting")
    return result


# -- piece kinds -------------------------------------------------------------


def classify_pieces(figure: TangramFigure) -> tuple[str, ...]:
    """Each piece's kind, from its vertex count and its share of the total area.

    Works at any scale and in any piece order. Raises TangramError unless the
    pieces are a standard tan set (areas within 10%).
    """
    unit = figure.total_area() / _TOTAL_AREA_RATIO  # area of one small triangle
    kinds: list[str] = []
    for index, poly in enumerate(figure.pieces, start=1):
        ratio = abs(_signed_area(poly)) / unit
        if len(poly) == 3:
            candidates = ("small_triangle", "medium_triangle", "large_triangle")
        else:
            # Same area; the square's diagonals are equal, the standard
            # parallelogram's differ by a factor sqrt(5).
            d1 = math.dist(poly[0], poly[2])
            d2 = math.dist(poly[1], poly[3])
            is_square = min(d1, d2) / max(d1, d2) > 0.8
            candidates = ("square",) if is_square else ("parallelogram",)
        kind = min(candidates, key=lambda k: abs(KIND_AREA_RATIOS[k] - ratio))
        if abs(ratio - KIND_AREA_RATIOS[kind]) > 0.1 * KIND_AREA_RATIOS[kind]:
            raise TangramError(
                f"piece {index} ({len(poly)} vertices, {ratio:.2f} small-triangle areas) "
                "matches no standard tan"
            )
        kinds.append(kind)
    if Counter(kinds) != Counter(PIECE_KINDS):
        found = ", ".join(f"{n} {k}" for k, n in sorted(Counter(kinds).items()))
        raise TangramError(f"not a standard tan set: found {found}")
    return tuple(kinds)


# -- layout checks -----------------------------------------------------------


def _edges(poly: Polygon) -> list[tuple[Point, Point]]:
    return [(poly[i], poly[(i + 1) % len(poly)]) for i in range(len(poly))]


def _shared_length(
    a0: Point, a1: Point, b0: Point, b1: Point, dist_tol: float
) -> float:
    """Length along which two segments lie on one line (within dist_tol)."""
    # Measure against the longer segment: its direction is the more precise.
    if math.dist(a0, a1) < math.dist(b0, b1):
        a0, a1, b0, b1 = b0, b1, a0, a1
    length = math.dist(a0, a1)
    if length == 0.0:
        return 0.0
    ux, uy = (a1[0] - a0[0]) / length, (a1[1] - a0[1]) / length
    ts = []
    for px, py in (b0, b1):
        dx, dy = px - a0[0], py - a0[1]
        if abs(dx * uy - dy * ux) > dist_tol:  # off the line
            return 0.0
        ts.append(dx * ux + dy * uy)
    lo, hi = max(0.0, min(ts)), min(length, max(ts))
    return max(0.0, hi - lo)


def pieces_touch(a: Polygon, b: Polygon, size: float) -> bool:
    """Whether two pieces share a boundary segment of positive length."""
    dist_tol = _CONTACT_DIST_REL * size
    min_len = _CONTACT_LEN_REL * size
    for a0, a1 in _edges(a):
        for b0, b1 in _edges(b):
            if _shared_length(a0, a1, b0, b1, dist_tol) > min_len:
                return True
    return False


def check_layout(figure: TangramFigure, *, tolerance: float = 1e-6) -> None:
    """Raise TangramError if pieces overlap or the figure is not connected.

    Overlap: an intersection area above ``tolerance`` x the total area. The
    pieces are first shrunk by 0.025% of the figure size, so rounding noise
    along shared edges (e.g. after to_json's 4 decimals) is not an overlap.
    Connected: pieces form one component when "touching" means sharing an
    edge segment of positive length; a shared corner alone does not count.
    """
    size = figure.size()
    shrink = _OVERLAP_SHRINK_REL * size
    shapes = [
        _ShapelyPolygon(poly).buffer(-shrink, join_style="mitre") for poly in figure.pieces
    ]
    limit = tolerance * figure.total_area()
    for i in range(PIECE_COUNT):
        for j in range(i + 1, PIECE_COUNT):
            if not shapes[i].intersects(shapes[j]):
                continue
            area = shapes[i].intersection(shapes[j]).area
            if area > limit:
                raise TangramError(f"pieces {i + 1} and {j + 1} overlap (area {area:.3g})")

    # Union-find over edge contacts.
    parent = list(range(PIECE_COUNT))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for i in range(PIECE_COUNT):
        for j in range(i + 1, PIECE_COUNT):
            if find(i) != find(j) and pieces_touch(figure.pieces[i], figure.pieces[j], size):
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for k in range(PIECE_COUNT):
        groups.setdefault(find(k), []).append(k + 1)
    if len(groups) > 1:
        parts = " | ".join(",".join(map(str, g)) for g in sorted(groups.values()))
        raise TangramError(f"figure is not connected by edges; components: {parts}")


def is_valid_layout(figure: TangramFigure) -> bool:
    try:
        check_layout(figure)
    except TangramError:
        return False
    return True


# -- generator ---------------------------------------------------------------

_C = math.sqrt(2.0) / 2.0
# Exact cos/sin of k * 45 degrees, so rotations add no drift of their own.
_COS45 = (1.0, _C, 0.0, -_C, -1.0, -_C, 0.0, _C)
_SIN45 = (0.0, _C, 1.0, _C, 0.0, -_C, -1.0, -_C)

_MAX_ATTEMPTS_PER_PIECE = 60
_MAX_RESTARTS = 50
# Slide offsets of the new edge along the existing one: ends aligned,
# centred, or hanging half over either end (gives stepped, protruding shapes).
_OFFSET_WEIGHTS = (3.0, 3.0, 2.0, 1.0, 1.0)
_CANDIDATES_PER_PIECE = 6
# Per figure: how often a piece goes where it fits snugly rather than where
# the figure's style puts it.
_COMPACTNESS_LEVELS = (0.2, 0.5, 0.7, 0.9)
_BUILD_STYLES = ("uniform", "spread", "axis")
_BUILD_STYLE_WEIGHTS = (0.4, 0.3, 0.3)


def _snap(v: float) -> float:
    return round(v, 9) + 0.0


def _transform(poly: Polygon, k: int, tx: float, ty: float) -> Polygon:
    c, s = _COS45[k % 8], _SIN45[k % 8]
    return tuple((_snap(c * x - s * y + tx), _snap(s * x + c * y + ty)) for x, y in poly)


def _mirror(poly: Polygon) -> Polygon:
    # Mirror in the y axis, then reverse to keep the positive orientation.
    return tuple((-x, y) for x, y in reversed(poly))


def _centroid(poly: Polygon) -> Point:
    n = len(poly)
    return sum(p[0] for p in poly) / n, sum(p[1] for p in poly) / n


def _place(
    target: tuple[Point, Point], shape: Polygon, edge_index: int, offset_choice: int
) -> Polygon:
    """Put ``shape`` against the target edge, its edge ``edge_index`` reversed on it."""
    (p0, p1) = target
    q0 = shape[edge_index]
    q1 = shape[(edge_index + 1) % len(shape)]
    # Rotate so q0->q1 points along p1->p0 (opposite orientation: with both
    # polygons positively oriented this puts the new piece outside).
    want = math.atan2(p0[1] - p1[1], p0[0] - p1[0])
    have = math.atan2(q1[1] - q0[1], q1[0] - q0[0])
    k = round((want - have) / (math.pi / 4)) % 8
    rotated = _transform(shape, k, 0.0, 0.0)
    r1 = rotated[(edge_index + 1) % len(shape)]
    lt = math.dist(p0, p1)
    ln = math.dist(q0, q1)
    offsets = (0.0, lt - ln, (lt - ln) / 2.0, -ln / 2.0, lt - ln / 2.0)
    s = offsets[offset_choice]
    ux, uy = (p1[0] - p0[0]) / lt, (p1[1] - p0[1]) / lt
    # The new edge covers [s, s + ln] along p0->p1; its end q1 sits at s.
    tx = p0[0] + s * ux - r1[0]
    ty = p0[1] + s * uy - r1[1]
    return tuple((_snap(x + tx), _snap(y + ty)) for x, y in rotated)


def _figure_centre(placed: dict[int, Polygon]) -> Point:
    total = cx = cy = 0.0
    for poly in placed.values():
        a = abs(_signed_area(poly))
        px, py = _centroid(poly)
        cx, cy, total = cx + a * px, cy + a * py, total + a
    return cx / total, cy / total


def _contact_length(candidate: Polygon, placed: dict[int, Polygon]) -> float:
    """Total edge length the candidate shares with the placed pieces."""
    total = 0.0
    for c0, c1 in _edges(candidate):
        for poly in placed.values():
            for p0, p1 in _edges(poly):
                total += _shared_length(c0, c1, p0, p1, 1e-7)
    return total


def _choose(
    rng: random.Random,
    candidates: list[Polygon],
    placed: dict[int, Polygon],
    style: str,
    axis: Point,
    compactness: float,
) -> Polygon:
    """Pick one valid placement: snug (most shared edge) or by the figure's style."""
    if len(candidates) == 1:
        return candidates[0]
    if rng.random() < compactness:
        # Snug placements fill notches and give solid bodies like most
        # KILOGRAM figures; ties keep the earlier (random) candidate.
        scores = [_contact_length(c, placed) for c in candidates]
        return candidates[scores.index(max(scores))]
    if style == "uniform":
        return rng.choice(candidates)
    # Far from the centre (or far along one axis): limbs, necks, tails.
    cx, cy = _figure_centre(placed)
    weights = []
    for cand in candidates:
        mx, my = _centroid(cand)
        mx, my = mx - cx, my - cy
        d = abs(mx * axis[0] + my * axis[1]) if style == "axis" else math.hypot(mx, my)
        weights.append((d + 0.25) ** 2)
    return rng.choices(candidates, weights=weights)[0]


def _try_build(rng: random.Random) -> TangramFigure | None:
    style = rng.choices(_BUILD_STYLES, weights=_BUILD_STYLE_WEIGHTS)[0]
    compactness = rng.choice(_COMPACTNESS_LEVELS)
    axis_k = rng.randrange(4)
    axis = (_COS45[axis_k], _SIN45[axis_k])
    order = list(range(PIECE_COUNT))
    rng.shuffle(order)
    if rng.random() < 0.5:
        # Large triangles first: a body that the smaller pieces extend.
        order.sort(key=lambda i: PIECE_KINDS[i] != "large_triangle")

    def oriented(kind_index: int) -> Polygon:
        shape = STANDARD_PIECES[kind_index]
        if PIECE_KINDS[kind_index] == "parallelogram" and rng.random() < 0.5:
            shape = _mirror(shape)
        return shape

    first = order[0]
    placed: dict[int, Polygon] = {first: _transform(oriented(first), rng.randrange(8), 0, 0)}
    shapes = [_ShapelyPolygon(placed[first])]
    for kind_index in order[1:]:
        edges = [e for poly in placed.values() for e in _edges(poly)]
        candidates: list[Polygon] = []
        for _ in range(_MAX_ATTEMPTS_PER_PIECE):
            shape = oriented(kind_index)
            offset_choice = rng.choices(range(len(_OFFSET_WEIGHTS)), weights=_OFFSET_WEIGHTS)[0]
            candidate = _place(rng.choice(edges), shape, rng.randrange(len(shape)), offset_choice)
            overlap = shapely.area(shapely.intersection(_ShapelyPolygon(candidate), shapes)).sum()
            if overlap < 1e-9:
                candidates.append(candidate)
                if len(candidates) == _CANDIDATES_PER_PIECE:
                    break
        if not candidates:
            return None  # stuck: caller restarts from a derived seed
        chosen = _choose(rng, candidates, placed, style, axis, compactness)
        placed[kind_index] = chosen
        shapes.append(_ShapelyPolygon(chosen))
    figure = TangramFigure(tuple(placed[i] for i in range(PIECE_COUNT))).normalized()
    # By construction this holds; the check guards against float surprises.
    return figure if is_valid_layout(figure) else None


def generate_figure(seed: int) -> TangramFigure:
    """A random connected, non-overlapping figure of the 7 standard tans.

    Deterministic under ``seed``; pieces are in PIECE_KINDS order and the
    figure is normalized (longer bbox side 1, at the origin).
    """
    for restart in range(_MAX_RESTARTS):
        rng = random.Random(derive_seed(seed, restart))
        figure = _try_build(rng)
        if figure is not None:
            return figure
    raise TangramError(f"could not generate a figure for seed {seed}")  # pragma: no cover


def figure_key(figure: TangramFigure, ndigits: int = 3) -> frozenset[tuple[Point, ...]]:
    """Identity of a figure's normalized shape, ignoring piece and vertex order."""
    key = set()
    for poly in figure.normalized().pieces:
        pts = [(round(x, ndigits) + 0.0, round(y, ndigits) + 0.0) for x, y in poly]
        start = pts.index(min(pts))
        key.add(tuple(pts[start:] + pts[:start]))
    return frozenset(key)


def generate_figures(count: int, seed: int) -> list[TangramFigure]:
    """``count`` distinct figures; figure i is the same whatever ``count`` is."""
    if count < 0:
        raise ValueError("count must be >= 0")
    figures: list[TangramFigure] = []
    seen: set[frozenset[tuple[Point, ...]]] = set()
    for i in range(count):
        attempt = 0
        while True:
            figure = generate_figure(derive_seed(seed, i, attempt))
            key = figure_key(figure)
            if key not in seen:
                break
            attempt += 1  # near-duplicate of an earlier figure: draw again
        seen.add(key)
        figures.append(figure)
    return figures
