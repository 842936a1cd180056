"""Importer for KILOGRAM-format tangram SVGs (one figure per file).

A file is an ``<svg>`` root holding seven ``<polygon>`` elements with ids
"1".."7", possibly with SVG ``transform`` attributes on the polygons and on
enclosing groups. Files are untrusted: parsed with defusedxml, size-limited,
and every problem is reported as KilogramFormatError.

Only structural checks are made here; real (hand-made) figures are not
precise enough to demand exact tan areas or zero overlap.
"""

from __future__ import annotations

import math
import re
from pathlib import PurePosixPath

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from games.domain.tangrams import PIECE_COUNT, TangramError, TangramFigure

SVG_NS = "http://www.w3.org/2000/svg"
MAX_SVG_BYTES = 1_000_000
_IDS = tuple(str(i) for i in range(1, PIECE_COUNT + 1))
# Containers whose content is never drawn directly.
_NON_RENDERED = frozenset({"defs", "symbol", "clipPath", "mask", "pattern", "marker"})

# An affine matrix (a, b, c, d, e, f): x' = a x + c y + e, y' = b x + d y + f.
Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER_RE = re.compile(_NUMBER)
_SEP_RE = re.compile(r"[\s,]*")
_TRANSFORM_RE = re.compile(r"\s*(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^()]*)\)\s*,?")
_ARG_COUNTS = {
    "matrix": (6,),
    "translate": (1, 2),
    "scale": (1, 2),
    "rotate": (1, 3),
    "skewX": (1,),
    "skewY": (1,),
}


class KilogramFormatError(ValueError):
    """A file is not a usable KILOGRAM tangram SVG; the message says why."""


def kilogram_name(filename: str) -> str:
    """The tangram's name: the file stem ("dir/page7-218.svg" -> "page7-218")."""
    base = re.split(r"[\\/]", filename)[-1]
    stem = PurePosixPath(base).stem if base else ""
    if not stem:
        raise KilogramFormatError(f"no tangram name in file name {filename!r}")
    return stem


def _parse_numbers(text: str, what: str) -> list[float]:
    """SVG number list: separated by whitespace and/or commas ("1-2" is two)."""
    numbers: list[float] = []
    pos = _SEP_RE.match(text, 0).end()  # type: ignore[union-attr]
    while pos < len(text):
        match = _NUMBER_RE.match(text, pos)
        if match is None:
            raise KilogramFormatError(f"{what}: unparsable number list near {text[pos:pos + 20]!r}")
        value = float(match.group())
        if not math.isfinite(value):
            raise KilogramFormatError(f"{what}: non-finite number {match.group()!r}")
        numbers.append(value)
        pos = _SEP_RE.match(text, match.end()).end()  # type: ignore[union-attr]
    return numbers


def _multiply(m: Matrix, n: Matrix) -> Matrix:
    """m then n applied on the right: the result maps p to m(n(p))."""
    a1, b1, c1, d1, e1, f1 = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a1 * a2 + c1 * b2,
        b1 * a2 + d1 * b2,
        a1 * c2 + c1 * d2,
        b1 * c2 + d1 * d2,
        a1 * e2 + c1 * f2 + e1,
        b1 * e2 + d1 * f2 + f1,
    )


def _one_transform(name: str, args: list[float]) -> Matrix:
    if name == "matrix":
        a, b, c, d, e, f = args
        return (a, b, c, d, e, f)
    if name == "translate":
        tx, ty = args[0], args[1] if len(args) == 2 else 0.0
        return (1.0, 0.0, 0.0, 1.0, tx, ty)
    if name == "scale":
        sx = args[0]
        sy = args[1] if len(args) == 2 else sx
        return (sx, 0.0, 0.0, sy, 0.0, 0.0)
    if name == "rotate":
        t = math.radians(args[0])
        rot: Matrix = (math.cos(t), math.sin(t), -math.sin(t), math.cos(t), 0.0, 0.0)
        if len(args) == 3:  # about (cx, cy): translate(c) rotate translate(-c)
            cx, cy = args[1], args[2]
            rot = _multiply(_multiply((1.0, 0.0, 0.0, 1.0, cx, cy), rot), (1.0, 0.0, 0.0, 1.0, -cx, -cy))
        return rot
    if name == "skewX":
        return (1.0, 0.0, math.tan(math.radians(args[0])), 1.0, 0.0, 0.0)
    # skewY
    return (1.0, math.tan(math.radians(args[0])), 0.0, 1.0, 0.0, 0.0)


def parse_transform(text: str) -> Matrix:
    """An SVG transform list as one matrix ("A B" applies B first, then A)."""
    result = IDENTITY
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TRANSFORM_RE.match(text, pos)
        if match is None:
            raise KilogramFormatError(f"bad transform near {text[pos:pos + 30]!r}")
        name = match.group(1)
        args = _parse_numbers(match.group(2), f"transform {name}")
        if len(args) not in _ARG_COUNTS[name]:
            counts = " or ".join(map(str, _ARG_COUNTS[name]))
            raise KilogramFormatError(f"transform {name} takes {counts} arguments, got {len(args)}")
        result = _multiply(result, _one_transform(name, args))
        pos = match.end()
    if not all(math.isfinite(v) for v in result):
        raise KilogramFormatError("transform has non-finite values")
    return result


def _split_tag(tag: object) -> tuple[str, str] | None:
    """(namespace, local name) of an element tag; None for comments etc."""
    if not isinstance(tag, str):
        return None
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _is_svg(tag: object, local: str) -> bool:
    split = _split_tag(tag)
    return split is not None and split[0] in (SVG_NS, "") and split[1] == local


def parse_kilogram_svg(data: bytes | str) -> TangramFigure:
    """The figure in a KILOGRAM SVG, polygons in id order "1".."7", transforms applied."""
    if isinstance(data, str):
        raw = data.encode("utf-8", errors="surrogatepass")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        raise KilogramFormatError(f"expected bytes or str, got {type(data).__name__}")
    if not raw.strip():
        raise KilogramFormatError("empty file")
    if len(raw) > MAX_SVG_BYTES:
        raise KilogramFormatError(f"file too large ({len(raw)} bytes; limit {MAX_SVG_BYTES})")

    try:
        root = SafeET.fromstring(raw)
    except DefusedXmlException as exc:
        raise KilogramFormatError(f"forbidden XML construct ({type(exc).__name__})") from exc
    except Exception as exc:  # noqa: BLE001 - untrusted input: any parser failure is a format error
        raise KilogramFormatError(f"not well-formed XML: {exc}") from exc
    if not _is_svg(root.tag, "svg"):
        raise KilogramFormatError(f"root element is {root.tag!r}, not <svg>")

    # Walk iteratively (no recursion limit on deep nesting), composing the
    # transforms of the enclosing elements.
    found: dict[str, tuple[Matrix, str]] = {}
    stack = [(child, IDENTITY) for child in reversed(list(root))]
    while stack:
        element, parent_matrix = stack.pop()
        split = _split_tag(element.tag)
        if split is None or split[0] not in (SVG_NS, "") or split[1] in _NON_RENDERED:
            continue
        matrix = _multiply(parent_matrix, parse_transform(element.get("transform", "")))
        if split[1] == "polygon":
            pid = element.get("id")
            if pid is None:
                raise KilogramFormatError("a polygon has no id")
            if pid not in _IDS:
                raise KilogramFormatError(f"unexpected polygon id {pid!r} (expected '1'..'7')")
            if pid in found:
                raise KilogramFormatError(f"duplicate polygon id {pid!r}")
            found[pid] = (matrix, element.get("points", ""))
        else:
            stack.extend((child, matrix) for child in reversed(list(element)))
    missing = [pid for pid in _IDS if pid not in found]
    if missing:
        raise KilogramFormatError(
            f"expected 7 polygons, found {len(found)}; missing id(s) {', '.join(missing)}"
        )

    pieces = [_polygon(pid, *found[pid]) for pid in _IDS]
    try:
        return TangramFigure(tuple(pieces))
    except TangramError as exc:
        raise KilogramFormatError(str(exc)) from exc


def _polygon(pid: str, matrix: Matrix, points_text: str) -> tuple[tuple[float, float], ...]:
    what = f"polygon {pid} points"
    numbers = _parse_numbers(points_text, what)
    if len(numbers) % 2:
        raise KilogramFormatError(f"{what}: odd number of coordinates ({len(numbers)})")
    pts = [(numbers[i], numbers[i + 1]) for i in range(0, len(numbers), 2)]
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts.pop()  # an explicitly closed ring repeats its first point
    if len(pts) < 3:
        raise KilogramFormatError(f"polygon {pid} has {len(pts)} points; at least 3 needed")
    a, b, c, d, e, f = matrix
    out = []
    for x, y in pts:
        tx, ty = a * x + c * y + e, b * x + d * y + f
        if not (math.isfinite(tx) and math.isfinite(ty)):
            raise KilogramFormatError(f"polygon {pid}: transformed point is not finite")
        out.append((tx, ty))
    area2 = sum(
        out[i][0] * out[(i + 1) % len(out)][1] - out[(i + 1) % len(out)][0] * out[i][1]
        for i in range(len(out))
    )
    if area2 == 0.0:
        raise KilogramFormatError(f"polygon {pid} has zero area")
    return tuple(out)
