"""Reader of KILOGRAM-format annotation files: human whole-shape descriptions per tangram (pure).

The file is a JSON object mapping a tangram name ("page1-0") to ``{"annotations": [...]}``; each
annotation has ``whole.wholeAnnotation`` (a description such as "a person hugging a pillow") and
optionally ``part`` (per-piece labels, ignored here). Anything else is refused with a one-line
reason naming the first problem found.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

MAX_FILE_BYTES = 200_000_000
MAX_DESCRIPTION_CHARS = 200


class AnnotationFormatError(ValueError):
    """An annotation file that cannot be used; the message says where and why."""


def parse_annotations(data: bytes | str | dict) -> dict[str, tuple[str, ...]]:
    """tangram name -> its distinct whole-shape descriptions (in file order)."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise AnnotationFormatError("the annotation file is not UTF-8 text") from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            raise AnnotationFormatError("the annotation file is not valid JSON") from None
    if not isinstance(data, dict):
        raise AnnotationFormatError("the annotation file must be a JSON object of tangram name -> annotations")
    result: dict[str, tuple[str, ...]] = {}
    for name, entry in data.items():
        where = f"tangram {str(name)[:40]!r}"
        if not isinstance(name, str) or not name.strip():
            raise AnnotationFormatError("tangram names must be non-empty strings")
        if not isinstance(entry, dict) or not isinstance(entry.get("annotations"), list):
            raise AnnotationFormatError(f"{where}: expected an object with an \"annotations\" list")
        texts: list[str] = []
        for index, annotation in enumerate(entry["annotations"]):
            whole = annotation.get("whole") if isinstance(annotation, dict) else None
            text = whole.get("wholeAnnotation") if isinstance(whole, dict) else None
            if not isinstance(text, str):
                raise AnnotationFormatError(f"{where}, annotation {index}: missing whole.wholeAnnotation text")
            text = " ".join(text.split())
            if not text:
                continue
            if len(text) > MAX_DESCRIPTION_CHARS:
                raise AnnotationFormatError(
                    f"{where}, annotation {index}: description longer than {MAX_DESCRIPTION_CHARS} characters")
            if text.lower() not in (t.lower() for t in texts):
                texts.append(text)
        if texts:
            result[name] = tuple(texts)
    if not result:
        raise AnnotationFormatError("the annotation file holds no descriptions")
    return result


def load_annotations(path: str | Path) -> dict[str, tuple[str, ...]]:
    """``parse_annotations`` of a file; missing, unreadable or oversized files are errors too."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AnnotationFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise AnnotationFormatError(f"{path} is not a file")
    if size > MAX_FILE_BYTES:
        raise AnnotationFormatError(f"{path} is too large ({size} bytes)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AnnotationFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_annotations(raw)


def descriptions_for(
    descriptions: Mapping[str, Sequence[str]] | None, images: Iterable[str]
) -> dict[str, tuple[str, ...]] | None:
    """The descriptions of one context's ``images`` (None when none of them has any): what a game's
    speaker and listener are given."""
    if not descriptions:
        return None
    found = {i: tuple(descriptions[i]) for i in images if i in descriptions}
    return found or None
