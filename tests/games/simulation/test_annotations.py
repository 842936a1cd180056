"""KILOGRAM-format annotation files: read the whole-shape descriptions, refuse bad files."""
import json

import pytest

from games.simulation.agents.annotations import AnnotationFormatError, load_annotations, parse_annotations

SAMPLE = {
    "page9-1": {"annotations": [
        {"whole": {"wholeAnnotation": "a dog sitting"}, "part": {"1": "head"}},
        {"whole": {"wholeAnnotation": "  a   dog sitting "}, "part": {}},
        {"whole": {"wholeAnnotation": "kangaroo"}},
    ]},
    "page9-2": {"annotations": [{"whole": {"wholeAnnotation": "boat"}, "part": {"1": "sail"}}]},
}


def test_descriptions_are_read_per_tangram_without_duplicates(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(SAMPLE))
    assert load_annotations(path) == {"page9-1": ("a dog sitting", "kangaroo"), "page9-2": ("boat",)}


@pytest.mark.parametrize("content, reason", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (json.dumps([1, 2]).encode(), "JSON object"),
    (json.dumps({"page9-1": {"annotations": "chair"}}).encode(), "annotations"),
    (json.dumps({"page9-1": {"annotations": [{"whole": {}}]}}).encode(), "wholeAnnotation"),
    (json.dumps({"page9-1": {"annotations": [{"whole": {"wholeAnnotation": "x" * 500}}]}}).encode(), "longer"),
    (json.dumps({}).encode(), "no descriptions"),
])
def test_bad_files_are_refused_with_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(AnnotationFormatError, match=reason):
        load_annotations(path)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(AnnotationFormatError, match="cannot read"):
        load_annotations(tmp_path / "nope.json")
    with pytest.raises(AnnotationFormatError, match="not a file"):
        load_annotations(tmp_path)


def test_the_parsed_form_accepts_objects():
    assert parse_annotations(SAMPLE)["page9-2"] == ("boat",)
