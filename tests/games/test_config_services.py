import pytest

from games.domain.rules import MAX_TARGETS, MIN_TARGETS
from games.models import ContextImage, GameConfig, Tangram
from games.selectors import context_spec_of, get_context_spec
from games.services.configs import generate_configs, import_original_configs
from tests.fixtures import original_config

pytestmark = pytest.mark.django_db


def test_generated_configs_are_valid_contexts(tangram_library):
    report = generate_configs(split="train", count=30, seed=4)
    assert len(report.created) == 30
    split_of = dict(Tangram.objects.values_list("name", "split"))
    for config in GameConfig.objects.prefetch_related("context_images__tangram"):
        spec = context_spec_of(config)
        assert config.split == "train" and config.origin == "generated"
        assert {split_of[i] for i in spec.images} == {"train"}
        assert MIN_TARGETS <= config.num_targets <= MAX_TARGETS
        assert spec.targets == frozenset(spec.images[: config.num_targets])
        targets = {r.tangram.name for r in config.context_images.all() if r.is_target}
        assert targets == spec.targets
        assert sorted(spec.speaker_order) == sorted(spec.images) == sorted(spec.listener_order)


def test_generate_configs_is_idempotent(tangram_library):
    generate_configs(split="dev", count=5, seed=2)
    snapshot = {c.name: context_spec_of(c) for c in GameConfig.objects.all()}
    again = generate_configs(split="dev", count=5, seed=2)
    assert not again.created and len(again.unchanged) == 5
    assert {c.name: context_spec_of(c) for c in GameConfig.objects.all()} == snapshot


def test_generate_configs_needs_ten_images(db):
    with pytest.raises(ValueError, match="needs 10"):
        generate_configs(split="dev", count=1, seed=0)
    with pytest.raises(ValueError):
        generate_configs(split="mixed", count=1, seed=0)


def _names(split, n):
    return list(Tangram.objects.filter(split=split).order_by("name").values_list("name", flat=True)[:n])


def test_import_original_configs(tangram_library, tmp_path):
    folder = tmp_path / "split_dev_context_length_10"
    folder.mkdir()
    images = _names("dev", 10)
    speaker = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]
    listener = list(range(10))
    (folder / "game_json_0.json").write_text(original_config(images, 4, speaker, listener))
    mixed = _names("train", 5) + _names("test", 5)
    (folder / "game_json_1.json").write_text(original_config(mixed, 3, listener, speaker))
    report = import_original_configs(folder)
    assert sorted(report.created) == ["split_dev_context_length_10-game_json_0",
                                      "split_dev_context_length_10-game_json_1"]
    first = GameConfig.objects.get(name="split_dev_context_length_10-game_json_0")
    assert first.split == "dev" and first.origin == "imported" and first.num_targets == 4
    spec = get_context_spec(first.pk)
    # Image i sits at screen position order[r][i].
    assert spec.speaker_order[3] == images[0] and spec.speaker_order[9] == images[5]
    assert spec.listener_order == tuple(images)
    assert GameConfig.objects.get(name="split_dev_context_length_10-game_json_1").split == "mixed"
    assert not import_original_configs(folder).created  # idempotent


def test_import_configs_skips_bad_files_and_unknown_tangrams(tangram_library, tmp_path):
    images = _names("dev", 10)
    (tmp_path / "ok.json").write_text(original_config(images, 3, list(range(10)), list(range(10))))
    (tmp_path / "unknown.json").write_text(
        original_config(images[:9] + ["page99-1"], 3, list(range(10)), list(range(10))))
    (tmp_path / "garbage.json").write_text("{not json")
    (tmp_path / "six_targets.json").write_text(original_config(images, 6, list(range(10)), list(range(10))))
    (tmp_path / "bad_order.json").write_text(original_config(images, 3, [0] * 10, list(range(10))))
    (tmp_path / "readme.md").write_text("hi")
    report = import_original_configs(tmp_path, prefix="")
    assert report.created == ["ok"]
    skipped = dict(report.skipped)
    assert set(skipped) == {"unknown.json", "garbage.json", "six_targets.json", "bad_order.json", "readme.md"}
    assert "page99-1" in skipped["unknown.json"]
    assert GameConfig.objects.count() == 1 and ContextImage.objects.count() == 10
