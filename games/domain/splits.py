"""Deterministic dev/train/test assignment of image names (pure; no Django)."""
import random
from collections.abc import Iterable, Mapping

SPLITS = ("dev", "train", "test")
# The original study split 1,013 KILOGRAM images 101 / 456 / 456.
DEFAULT_FRACTIONS = {"dev": 0.10, "train": 0.45, "test": 0.45}


class SplitError(ValueError):
    pass


def parse_fractions(text: str) -> dict[str, float]:
    """Parse ``"0.1,0.45,0.45"`` (dev, train, test) into validated fractions."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise SplitError(f"expected three comma-separated fractions for dev,train,test; got {text!r}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise SplitError(f"fractions must be numbers; got {text!r}") from None
    return validate_fractions(dict(zip(SPLITS, values)))


def validate_fractions(fractions: Mapping[str, float]) -> dict[str, float]:
    if set(fractions) != set(SPLITS):
        raise SplitError(f"fractions must name exactly {', '.join(SPLITS)}")
    if any(not (0.0 <= v <= 1.0) for v in fractions.values()):
        raise SplitError("each fraction must lie between 0 and 1")
    total = sum(fractions.values())
    if abs(total - 1.0) > 1e-6:
        raise SplitError(f"fractions must add up to 1 (they add up to {total:g})")
    return {name: float(fractions[name]) for name in SPLITS}


def assign_splits(names: Iterable[str], fractions: Mapping[str, float], seed: int) -> dict[str, str]:
    """Shuffle the names under ``seed`` and cut the list by the fractions (dev first).

    Sizes are rounded so that they add up to the number of names; the result depends only on the
    set of names, not on the order they were given in.
    """
    fractions = validate_fractions(fractions)
    ordered = sorted(set(names))
    random.Random(seed).shuffle(ordered)
    n = len(ordered)
    n_dev = round(n * fractions["dev"])
    n_train = min(n - n_dev, round(n * fractions["train"]))
    assignment: dict[str, str] = {}
    for i, name in enumerate(ordered):
        assignment[name] = "dev" if i < n_dev else "train" if i < n_dev + n_train else "test"
    return assignment


def parse_splits_file(text: str) -> dict[str, str]:
    """Parse a splits file: ``{"dev": [names], "train": [...], "test": [...]}`` -> name -> split.

    Names may carry a ``.svg`` or ``.png`` extension (as in the original lists); a name listed
    under two splits is an error.
    """
    import json

    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SplitError(f"splits file is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise SplitError('splits file must be a JSON object like {"dev": [...], "train": [...], "test": [...]}')
    unknown = sorted(set(data) - set(SPLITS))
    if unknown:
        raise SplitError(f"unknown split names in splits file: {', '.join(map(str, unknown))}")
    assignment: dict[str, str] = {}
    for split, names in data.items():
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise SplitError(f"splits file: {split!r} must be a list of image names")
        for raw in names:
            name = raw.strip()
            for ext in (".svg", ".png"):
                if name.lower().endswith(ext):
                    name = name[: -len(ext)]
            if assignment.get(name, split) != split:
                raise SplitError(f"splits file lists {name!r} under both {assignment[name]!r} and {split!r}")
            assignment[name] = split
    return assignment
