import io

import pytest
from PIL import Image

from games.domain.tangrams import TangramFigure
from games.models import Tangram
from games.services.tangrams import generate_tangrams, import_kilogram
from tests.fixtures import kilogram_svg, write_kilogram_folder

pytestmark = pytest.mark.django_db
FRACTIONS = {"dev": 0.1, "train": 0.45, "test": 0.45}


def test_generate_stores_figures_with_both_renderings():
    report = generate_tangrams(count=20, seed=3, fractions=FRACTIONS)
    assert len(report.created) == 20 and not report.skipped
    assert dict(report.by_split) == {"dev": 2, "train": 9, "test": 9}
    tangram = Tangram.objects.get(name="gen3-0000")
    assert tangram.source == "generated" and tangram.seed == 3
    assert len(TangramFigure.from_json(tangram.polygons).pieces) == 7
    assert tangram.svg.count("<polygon") == 7
    png = Image.open(io.BytesIO(bytes(tangram.png)))
    assert png.size == (224, 224)


def test_generate_is_idempotent_and_extends_without_changing_existing():
    generate_tangrams(count=10, seed=1, fractions=FRACTIONS)
    before = {t.name: (t.polygons, t.split) for t in Tangram.objects.all()}
    again = generate_tangrams(count=10, seed=1, fractions=FRACTIONS)
    assert not again.created and len(again.unchanged) == 10
    more = generate_tangrams(count=15, seed=1, fractions=FRACTIONS)
    assert len(more.created) == 5 and len(more.unchanged) == 10
    after = {t.name: (t.polygons, t.split) for t in Tangram.objects.filter(name__in=before)}
    assert after == before


def test_import_valid_folder(tmp_path):
    folder = write_kilogram_folder(tmp_path / "svgs", [f"page{i}-1" for i in range(10)])
    report = import_kilogram(folder, fractions=FRACTIONS, seed=0)
    assert len(report.created) == 10 and not report.skipped
    assert Tangram.objects.filter(source="kilogram").count() == 10
    t = Tangram.objects.get(name="page3-1")
    assert t.source_file == "page3-1.svg"
    # Stored SVG is our own rendering (dark silhouette), not the imported file's markup.
    assert "lightgray" not in t.svg


def test_import_partial_folder_skips_bad_and_foreign_files_by_name(tmp_path):
    folder = write_kilogram_folder(tmp_path / "svgs", ["good-1", "good-2"])
    (folder / "notes.txt").write_text("hello")
    (folder / "broken.svg").write_text("<svg><polygon id='1' points='0,0 1")
    (folder / "six.svg").write_text(kilogram_svg(5).replace('<polygon fill="lightgray" id="7"', '<rect id="7"'))
    (folder / "empty.svg").write_bytes(b"")
    (folder / "bad name!.svg").write_text(kilogram_svg(6))
    report = import_kilogram(folder, fractions=FRACTIONS, seed=0)
    assert sorted(report.created) == ["good-1", "good-2"]
    skipped = dict(report.skipped)
    assert set(skipped) == {"notes.txt", "broken.svg", "six.svg", "empty.svg", "bad name!.svg"}
    assert all(reason for reason in skipped.values())
    assert Tangram.objects.count() == 2


def test_import_never_overwrites_a_different_figure(tmp_path):
    folder = write_kilogram_folder(tmp_path / "a", ["page1-0"], seed=1)
    import_kilogram(folder, fractions=FRACTIONS, seed=0)
    original = Tangram.objects.get(name="page1-0").polygons
    other = write_kilogram_folder(tmp_path / "b", ["page1-0"], seed=2)
    report = import_kilogram(other, fractions=FRACTIONS, seed=0)
    assert not report.created and "already exists" in report.skipped[0][1]
    assert Tangram.objects.get(name="page1-0").polygons == original
    same = import_kilogram(folder, fractions=FRACTIONS, seed=0)
    assert same.unchanged == ["page1-0"]


def test_import_with_a_splits_file(tmp_path):
    folder = write_kilogram_folder(tmp_path / "svgs", ["a1", "a2", "a3", "unlisted"])
    splits = {"a1": "dev", "a2": "train", "a3": "test"}
    report = import_kilogram(folder, fractions=FRACTIONS, seed=0, splits=splits)
    assert dict(Tangram.objects.values_list("name", "split")) == splits
    assert report.skipped == [("unlisted.svg", "not listed in the splits file")]


def test_a_failure_while_storing_leaves_nothing_half_imported(tmp_path, monkeypatch):
    folder = write_kilogram_folder(tmp_path / "svgs", [f"p{i}" for i in range(5)])
    calls = {"n": 0}
    import games.services.tangrams as service

    real_render = service.render_png

    def failing_render(figure):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("disk full")
        return real_render(figure)

    monkeypatch.setattr(service, "render_png", failing_render)
    with pytest.raises(RuntimeError):
        import_kilogram(folder, fractions=FRACTIONS, seed=0)
    assert Tangram.objects.count() == 0
