"""How alike two tangrams, and two listener actions, look (pure; shapely for the polygon overlap).

Figure similarity is the overlap of the two silhouettes:

1. a figure's silhouette is the union of its seven pieces;
2. it is normalised: translated so its centroid is at the origin and scaled to area 1, so position
   and size do not matter;
3. the second silhouette is turned by each of the 8 symmetries of the square (rotations by 0, 90,
   180 and 270 degrees, each with and without a mirror image) about its centroid;
4. the similarity is the best intersection-over-union (IoU, area of the overlap / area of the union)
   of the first silhouette with one of those 8 images: 1 for the same figure (whatever its position,
   size, quarter-turn or reflection), towards 0 for shapes that hardly overlap.

Action similarity compares the toggles of a model's action with a gold action (both: images
selected and images deselected), part by part, so deselections count as much as selections:

* a part (select or deselect) that is empty in both actions is left out;
* a part empty in one action only scores 0;
* otherwise the part scores the soft F1 of the two image sets, 1/2 * (mean over the model's images
  of the best similarity to a gold image + mean over the gold images of the best similarity to one
  of the model's images); identical sets score 1;
* the action's similarity is the mean of its parts' scores weighted by their sizes (the images in
  the part of both actions); two empty actions score 1.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import shapely
from shapely import affinity
from shapely.geometry import Polygon as ShapelyPolygon

from games.domain.tangrams import TangramFigure

# (rotation in degrees, mirrored) for the 8 symmetries of the square.
SYMMETRIES: tuple[tuple[int, bool], ...] = tuple((angle, mirror) for mirror in (False, True) for angle in (0, 90, 180, 270))


class SimilarityError(ValueError):
    """A figure that cannot be compared (no area), or an image without a figure."""


def silhouette(figure: TangramFigure):
    """The figure's union of pieces, centred on its centroid and scaled to area 1."""
    shape = shapely.union_all([ShapelyPolygon(piece).buffer(0) for piece in figure.pieces])
    area = shape.area
    if not area > 0:
        raise SimilarityError("a figure without area has no silhouette")
    centre = shape.centroid
    shape = affinity.translate(shape, -centre.x, -centre.y)
    factor = 1.0 / area ** 0.5
    return affinity.scale(shape, factor, factor, origin=(0, 0))


def _images(shape) -> list:
    out = []
    for angle, mirror in SYMMETRIES:
        turned = affinity.scale(shape, -1.0, 1.0, origin=(0, 0)) if mirror else shape
        out.append(affinity.rotate(turned, angle, origin=(0, 0)) if angle else turned)
    return out


def _iou(a, b) -> float:
    union = a.union(b).area
    return a.intersection(b).area / union if union > 0 else 0.0


def silhouette_similarity(a, b) -> float:
    """Best IoU of silhouette ``a`` with one of the 8 symmetric images of silhouette ``b``."""
    return min(1.0, max(_iou(a, image) for image in _images(b)))


def figure_similarity(a: TangramFigure, b: TangramFigure) -> float:
    """The silhouette similarity of two figures, in [0, 1] (see the module docstring)."""
    return silhouette_similarity(silhouette(a), silhouette(b))


class FigureSimilarity:
    """Similarities of named figures, each silhouette and each pair computed once."""

    def __init__(self, figures: Mapping[str, TangramFigure]):
        self._figures = figures
        self._shapes: dict[str, object] = {}
        self._pairs: dict[tuple[str, str], float] = {}

    def _shape(self, name: str):
        if name not in self._shapes:
            if name not in self._figures:
                raise SimilarityError(f"no figure for image {name!r}")
            self._shapes[name] = silhouette(self._figures[name])
        return self._shapes[name]

    def __call__(self, a: str, b: str) -> float:
        if a == b:
            self._shape(a)
            return 1.0
        key = (a, b) if a < b else (b, a)
        if key not in self._pairs:
            self._pairs[key] = silhouette_similarity(self._shape(key[0]), self._shape(key[1]))
        return self._pairs[key]


Similarity = Callable[[str, str], float]


def set_similarity(predicted: Collection[str], gold: Collection[str], similarity: Similarity) -> float | None:
    """Soft F1 of two image sets (None when both are empty, 0 when only one is)."""
    predicted, gold = sorted(set(predicted)), sorted(set(gold))
    if not predicted and not gold:
        return None
    if not predicted or not gold:
        return 0.0
    precision = sum(max(similarity(p, g) for g in gold) for p in predicted) / len(predicted)
    recall = sum(max(similarity(p, g) for p in predicted) for g in gold) / len(gold)
    return (precision + recall) / 2.0


def action_similarity(
    predicted_select: Collection[str], predicted_deselect: Collection[str],
    gold_select: Collection[str], gold_deselect: Collection[str], similarity: Similarity,
) -> float:
    """How alike a model's action and a gold action are, deselections included (module docstring)."""
    total = weight = 0.0
    for predicted, gold in ((predicted_select, gold_select), (predicted_deselect, gold_deselect)):
        score = set_similarity(predicted, gold, similarity)
        if score is None:
            continue
        size = len(set(predicted)) + len(set(gold))
        total += size * score
        weight += size
    return total / weight if weight else 1.0


__all__ = [
    "SYMMETRIES", "SimilarityError", "silhouette", "silhouette_similarity", "figure_similarity", "FigureSimilarity",
    "set_similarity", "action_similarity",
]
