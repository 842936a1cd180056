"""The mechanics both model backends share (training/policies/caches.py, common.py, loading.py,
adapters.lora_config): the LRU cache, the act loop that isolates bad requests, the decoded-image
cache, temperature checks, one loaded base per folder, checked weights and staged atomic saves."""
import os
import threading

import pytest

from games.domain.rules import PROBABILITY_ERROR, RuleError
from training.policies.adapters import PolicyLoadError
from training.policies.base import ActRequest, ActResult, check_temperature
from training.policies.caches import LRUCache
from training.policies.common import DecodedImages, ImageError, act_each
from training.policies.loading import (
    SharedBases, check_output_folder, folder_model_type, load_checked_weights, staged_folder,
)

ORDER = tuple(f"img{i}" for i in range(10))


# --- the LRU cache ------------------------------------------------------------------------------------


class Computer:
    """compute(keys) -> values, recording what it was asked."""

    def __init__(self, value=lambda k: k.upper()):
        self.asked: list[list[str]] = []
        self.value = value

    def __call__(self, keys):
        self.asked.append(list(keys))
        return [self.value(k) for k in keys]


def test_the_cache_computes_each_missing_key_once_and_counts_hits():
    cache, compute = LRUCache(10), Computer()
    assert cache.get_many(["a", "b", "a"], compute) == ["A", "B", "A"]
    assert cache.get_many(["b", "c"], compute) == ["B", "C"]
    assert compute.asked == [["a", "b"], ["c"]]
    assert (cache.misses, cache.hits) == (3, 2)
    assert len(cache) == 3 and "c" in cache and "z" not in cache


def test_the_cache_is_bounded_in_entries_and_drops_the_least_recently_used():
    cache, compute = LRUCache(3), Computer()
    cache.get_many(["a", "b", "c"], compute)
    cache.get_many(["a"], compute)  # a is now the most recent
    cache.get_many(["d"], compute)
    assert list(cache) == ["c", "a", "d"] and cache.size == 3
    cache.get_many(["b"], compute)
    assert compute.asked[-1] == ["b"]  # b was dropped, so it is computed again
    assert len(cache) == 3


def test_the_cache_is_bounded_in_size_and_never_drops_what_a_call_returns():
    cache = LRUCache(10, size_of=len)
    compute = Computer(value=lambda k: "x" * int(k[1:]))
    cache.get_many(["k4", "k5"], compute)
    assert cache.size == 9
    cache.get_many(["k3"], compute)  # 12 > 10: the oldest (k4) goes
    assert list(cache) == ["k5", "k3"] and cache.size == 8
    # One call needing more than the bound still gets everything; the cache then holds just that.
    values = cache.get_many(["k6", "k7"], compute)
    assert [len(v) for v in values] == [6, 7]
    assert sorted(cache) == ["k6", "k7"] and cache.size == 13
    cache.get_many(["k1"], compute)  # 14 > 10: k6 goes, and that is enough
    assert list(cache) == ["k7", "k1"] and cache.size == 8


def test_a_failed_computation_keeps_nothing_of_that_call():
    cache = LRUCache(10)

    def broken(keys):
        raise ImageError("no such image")

    cache.get_many(["a"], Computer())
    with pytest.raises(ImageError):
        cache.get_many(["a", "b"], broken)
    assert list(cache) == ["a"] and cache.size == 1
    with pytest.raises(RuntimeError, match="computed 1 values for 2 keys"):
        cache.get_many(["b", "c"], lambda keys: ["B"])
    assert list(cache) == ["a"]


def test_concurrent_callers_compute_a_key_once():
    cache, compute = LRUCache(100), Computer()
    start = threading.Barrier(8)

    def worker():
        start.wait()
        cache.get_many(["a", "b", "c"], compute)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(k for call in compute.asked for k in call) == ["a", "b", "c"]


# --- decoded images -----------------------------------------------------------------------------------


def test_decoded_images_name_every_missing_image_and_stay_bounded():
    asked = []

    def source(names):
        asked.extend(names)
        return {n: n.encode() for n in names if n != "gone"}

    images = DecodedImages(source, lambda png: png.decode().upper(), max_items=2)
    assert images.get(["a", "b"]) == ["A", "B"]
    with pytest.raises(ImageError, match="images missing from the library: gone"):
        images.get(["a", "gone"])
    assert images.get(["c"]) == ["C"] and images.get(["b"]) == ["B"]
    assert asked.count("a") == 1 and asked.count("b") == 1
    assert images.get(["a"]) == ["A"] and asked.count("a") == 2  # a was dropped for c and b

    def undecodable(png):
        raise ValueError("cannot identify image file")

    with pytest.raises(ImageError, match="image x is not a readable picture"):
        DecodedImages(source, undecodable, max_items=2).get(["x"])


# --- the act loop -------------------------------------------------------------------------------------


def request(i, selection=()):
    return ActRequest(interaction_id=i, turn=0, listener_order=ORDER, history=(), utterance=f"u{i}",
                      selection=frozenset(selection))


def answer_for(req, tag=""):
    return ActResult(select=frozenset({req.listener_order[1]}), deselect=frozenset(), raw_output=f"{tag}{req.interaction_id}",
                     probability=0.5, source="model")


def test_act_each_answers_good_requests_and_gives_bad_ones_the_error_fallback(caplog):
    requests = [request(0), request(1, {"img0"}), request(2), request(3), request(4)]
    calls = []

    def prepare(i, req):
        if i == 1:
            raise ImageError("images missing from the library: img7")
        if i == 3:
            raise RuleError("bad order")
        return ("hot" if i == 2 else "cold"), req

    def answer(group, ready):
        calls.append((group, [r.interaction_id for r in ready]))
        return [answer_for(r, group) for r in ready]

    results = act_each("p", requests, prepare, answer)
    assert calls == [("cold", [0, 4]), ("hot", [2])]
    assert [r.raw_output for r in results] == ["cold0", "", "hot2", "", "cold4"]
    assert (results[1].source, results[1].probability) == ("error", PROBABILITY_ERROR)
    assert results[1].deselect == {"img0"} and not results[1].select  # toggles the first image off
    assert results[3].select == {"img0"} and "bad order" in results[3].extra["error"]
    assert "policy p cannot answer request 1" in caplog.text


def test_act_each_lets_a_failure_of_the_whole_call_through():
    def answer(group, ready):
        raise MemoryError("out of device memory")

    with pytest.raises(MemoryError):
        act_each("p", [request(0)], lambda i, r: (None, r), answer)

    def prepare(i, req):
        raise KeyError("a bug, not a bad request")

    with pytest.raises(KeyError):
        act_each("p", [request(0)], prepare, lambda g, ready: [])


def test_temperatures():
    for ok in (1, 0.5, 2.0):
        check_temperature(ok)
    check_temperature(0, allow_zero=True)
    for bad in (0, -1, float("nan"), float("inf"), True, "1", None):
        with pytest.raises(ValueError, match="positive number"):
            check_temperature(bad)
    with pytest.raises(ValueError, match="non-negative number"):
        check_temperature(-0.1, allow_zero=True)


# --- loading ------------------------------------------------------------------------------------------


def test_one_base_per_folder_and_device_and_failures_are_not_remembered(tmp_path):
    (tmp_path / "m").mkdir()
    os.symlink(tmp_path / "m", tmp_path / "link")
    loads = []

    def load(path, *, device):
        loads.append((str(path), device))
        if len(loads) == 1:
            raise PolicyLoadError("first try fails")
        return object()

    bases = SharedBases(load)
    with pytest.raises(PolicyLoadError):
        bases.get(tmp_path / "m", "cpu")
    one = bases.get(tmp_path / "m", "cpu")
    assert bases.get(tmp_path / "link", "cpu") is one  # the same folder through a link
    assert bases.get(tmp_path / "m", "cuda") is not one
    assert len(loads) == 3


def test_missing_or_mismatched_weights_fail_at_load_time(tmp_path):
    def loader(info):
        return lambda folder, **kwargs: ("model", info)

    assert load_checked_weights(tmp_path, loader({"missing_keys": [], "mismatched_keys": []})) == "model"
    with pytest.raises(PolicyLoadError, match="weights missing or mismatched: head.bias, head.weight"):
        load_checked_weights(tmp_path, loader({"missing_keys": ["head.weight", "head.bias"]}))

    def unreadable(folder, **kwargs):
        raise OSError("truncated\nfile")

    with pytest.raises(PolicyLoadError, match=r"cannot load the weights \(truncated file\)"):
        load_checked_weights(tmp_path, unreadable)


def test_folder_model_type(tmp_path):
    assert folder_model_type(tmp_path) is None
    (tmp_path / "config.json").write_text("{not json")
    assert folder_model_type(tmp_path) is None
    (tmp_path / "config.json").write_text('{"model_type": "idefics3"}')
    assert folder_model_type(tmp_path) == "idefics3"


# --- staged atomic saves ------------------------------------------------------------------------------


def test_a_staged_save_replaces_the_folder_only_when_complete(tmp_path):
    out = tmp_path / "models" / "m"
    with staged_folder(out, prefix=".m-") as staging:
        assert staging.parent == out.parent and not out.exists()
        (staging / "weights").write_text("v1")
    assert (out / "weights").read_text() == "v1" and oct(out.stat().st_mode & 0o777) == "0o755"
    with staged_folder(out) as staging:
        (staging / "weights").write_text("v2")
    assert [p.name for p in out.iterdir()] == ["weights"] and (out / "weights").read_text() == "v2"
    assert sorted(p.name for p in out.parent.iterdir()) == ["m"]  # no staging folder left over


def test_a_failed_staged_save_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "m"
    with pytest.raises(RuntimeError, match="disk full"):
        with staged_folder(out) as staging:
            (staging / "weights").write_text("half")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []  # neither the model nor its staging folder
    out.mkdir()
    (out / "weights").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with staged_folder(out) as staging:
            (staging / "weights").write_text("half")
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["m"] and (out / "weights").read_text() == "old"


def test_models_are_only_written_into_empty_folders(tmp_path):
    check_output_folder(tmp_path / "new", overwrite=False)
    check_output_folder(tmp_path, overwrite=False)  # empty
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        check_output_folder(tmp_path, overwrite=False)
    check_output_folder(tmp_path, overwrite=True)


def test_both_backends_use_the_studys_lora_settings_on_their_own_layers():
    pytest.importorskip("peft")
    from training.policies import compact_listener, hf_base

    for backend in (hf_base, compact_listener):
        config = backend.lora_config()
        assert (config.r, config.lora_alpha, config.lora_dropout, config.init_lora_weights) == (8, 8, 0.1, "gaussian")
        assert config.target_modules == backend.LORA_TARGETS
    assert hf_base.lora_config(r=4, init_lora_weights=False).r == 4
