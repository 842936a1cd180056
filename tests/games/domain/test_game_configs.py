"""Game configs: the original study's JSON format and the context generator."""

from __future__ import annotations

import copy
from collections import Counter
import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from games.domain.game_configs import (
    ConfigFormatError,
    ContextSpec,
    generate_contexts,
    parse_original_config,
    to_original_config,
)

# Our own fixture names, in the original naming style.
NAMES = [f"page{i}-{10 + i}.svg" for i in range(10)]
IDS = [n[:-4] for n in NAMES]
SPEAKER_PERM = [1, 7, 6, 2, 9, 0, 8, 4, 3, 5]
LISTENER_PERM = [0, 5, 1, 4, 9, 7, 2, 3, 8, 6]


def make_config(k: int = 4, **block_overrides) -> dict:
    block = {
        "base": {i: [i] for i in IDS},
        "img": list(NAMES),
        "tgt": [NAMES[:k]],
        "order": [list(SPEAKER_PERM), list(LISTENER_PERM)],
        "roles": [0, 1],
    }
    block.update(block_overrides)
    return {"params": {"p_similarity": 1, "num_random": 0}, "blocks": [block]}


def screen(perm):
    out = [None] * 10
    for i, pos in enumerate(perm):
        out[pos] = IDS[i]
    return tuple(out)


# ---------------------------------------------------------------------- parsing


def test_parse_places_image_i_at_position_order_i():
    spec = parse_original_config(make_config(k=4))
    assert spec.images == tuple(IDS)
    assert spec.num_targets == 4
    assert spec.targets == frozenset(IDS[:4])
    # Image 0 goes to speaker position 1 and listener position 0, image 4 to 9 / 9.
    assert spec.speaker_order[1] == IDS[0] and spec.listener_order[0] == IDS[0]
    assert spec.speaker_order[9] == IDS[4] and spec.listener_order[9] == IDS[4]
    assert spec.speaker_order == screen(SPEAKER_PERM)
    assert spec.listener_order == screen(LISTENER_PERM)


@pytest.mark.parametrize("encode", [lambda d: d, json.dumps, lambda d: json.dumps(d).encode(),
                                    lambda d: b"\xef\xbb\xbf" + json.dumps(d).encode()])
def test_parse_accepts_dict_text_bytes(encode):
    assert parse_original_config(encode(make_config())) == parse_original_config(make_config())


def test_export_matches_original_format():
    config = make_config(k=5)
    assert to_original_config(parse_original_config(config)) == config


def test_non_leading_targets_are_moved_to_the_front():
    targets = [NAMES[7], NAMES[2], NAMES[5]]
    spec = parse_original_config(make_config(tgt=[targets]))
    assert spec.num_targets == 3
    assert spec.images[:3] == (IDS[2], IDS[5], IDS[7])  # targets first, in img order
    assert spec.images[3:] == tuple(i for i in IDS if i not in {IDS[2], IDS[5], IDS[7]})
    assert spec.targets == {IDS[2], IDS[5], IDS[7]}
    # Every image keeps its screen position.
    assert spec.speaker_order == screen(SPEAKER_PERM)
    assert spec.listener_order == screen(LISTENER_PERM)
    exported = to_original_config(spec)
    assert exported["blocks"][0]["tgt"] == [[f"{i}.svg" for i in spec.images[:3]]]
    assert parse_original_config(exported) == spec


def test_target_order_within_tgt_does_not_matter():
    config = make_config(k=3, tgt=[[NAMES[2], NAMES[0], NAMES[1]]])
    assert parse_original_config(config) == parse_original_config(make_config(k=3))


def _bad(**overrides):
    return make_config(**overrides)


BAD_CONFIGS = {
    "not json": b"{not json",
    "not utf8": b"\xff\xfe\x00{",
    "json list": "[1, 2]",
    "json string": '"blocks"',
    "wrong type": 42,
    "no blocks": {"params": {}},
    "blocks not list": {"blocks": {"img": NAMES}},
    "empty blocks": {"blocks": []},
    "two blocks": {"blocks": make_config()["blocks"] * 2},
    "block not object": {"blocks": [NAMES]},
    "params not object": {**make_config(), "params": [1]},
    "nine images": _bad(img=NAMES[:9]),
    "eleven images": _bad(img=NAMES + ["page99-1.svg"]),
    "duplicate image": _bad(img=NAMES[:9] + [NAMES[0]]),
    "image not string": _bad(img=NAMES[:9] + [7]),
    "image not svg": _bad(img=NAMES[:9] + ["page9-19.png"]),
    "image path": _bad(img=NAMES[:9] + ["../etc.svg"]),
    "image bare svg": _bad(img=NAMES[:9] + [".svg"]),
    "img missing": {"blocks": [{k: v for k, v in make_config()["blocks"][0].items() if k != "img"}]},
    "tgt missing": {"blocks": [{k: v for k, v in make_config()["blocks"][0].items() if k != "tgt"}]},
    "tgt flat": _bad(tgt=NAMES[:4]),
    "tgt two lists": _bad(tgt=[NAMES[:3], NAMES[3:6]]),
    "tgt empty": _bad(tgt=[]),
    "target outside img": _bad(tgt=[NAMES[:3] + ["page77-1.svg"]]),
    "target not string": _bad(tgt=[NAMES[:3] + [None]]),
    "duplicate target": _bad(tgt=[NAMES[:3] + [NAMES[0]]]),
    "two targets": _bad(tgt=[NAMES[:2]]),
    "six targets": _bad(tgt=[NAMES[:6]]),
    "order missing": {"blocks": [{k: v for k, v in make_config()["blocks"][0].items() if k != "order"}]},
    "one order": _bad(order=[SPEAKER_PERM]),
    "three orders": _bad(order=[SPEAKER_PERM] * 3),
    "order not permutation": _bad(order=[SPEAKER_PERM, [0] * 10]),
    "order 1-based": _bad(order=[SPEAKER_PERM, [p + 1 for p in LISTENER_PERM]]),
    "order short": _bad(order=[SPEAKER_PERM, LISTENER_PERM[:9]]),
    "order floats": _bad(order=[SPEAKER_PERM, [float(p) for p in LISTENER_PERM]]),
    "order strings": _bad(order=[SPEAKER_PERM, [str(p) for p in LISTENER_PERM]]),
    "order bools": _bad(order=[[True, False] + list(range(2, 10)), LISTENER_PERM]),
    "roles swapped": _bad(roles=[1, 0]),
    "roles floats": _bad(roles=[0.0, 1.0]),
    "base not object": _bad(base=[]),
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "huge int": '{"blocks": [{"order": [' + "1" * 5000 + "]}]}",
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_configs_are_rejected_with_a_reason(name):
    with pytest.raises(ConfigFormatError) as info:
        parse_original_config(BAD_CONFIGS[name])
    reason = str(info.value)
    assert reason and "\n" not in reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=12) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=40,
)


def _only_config_errors(data) -> None:
    try:
        spec = parse_original_config(data)
    except ConfigFormatError as err:
        assert str(err)
    else:
        assert isinstance(spec, ContextSpec)


@settings(max_examples=300)
@given(json_values)
def test_random_json_only_raises_config_errors(value):
    _only_config_errors(value)
    _only_config_errors(json.dumps(value))


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_random_bytes_and_text_only_raise_config_errors(data):
    _only_config_errors(data)


@settings(max_examples=300)
@given(
    st.sampled_from(["img", "tgt", "order", "roles", "base"]),
    st.one_of(json_values, st.lists(st.sampled_from(NAMES + [0, 1, 9, "x"]), max_size=11)),
    st.integers(0, 10),
)
def test_mutated_configs_only_raise_config_errors(key, value, index):
    config = make_config()
    block = config["blocks"][0]
    if index < 10 and isinstance(block[key], list) and block[key] and key in ("img", "order"):
        block[key] = copy.deepcopy(block[key])
        block[key][min(index, len(block[key]) - 1)] = value  # corrupt one entry
    else:
        block[key] = value
    _only_config_errors(config)
    _only_config_errors(json.dumps(config))


# ----------------------------------------------------------------- ContextSpec

image_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}", fullmatch=True)


@st.composite
def specs(draw) -> ContextSpec:
    images = draw(st.lists(image_ids, min_size=10, max_size=10, unique=True))
    k = draw(st.integers(3, 5))
    return ContextSpec(tuple(images), k, tuple(draw(st.permutations(images))), tuple(draw(st.permutations(images))))


@given(specs())
def test_export_parse_round_trip(spec):
    exported = to_original_config(spec)
    assert parse_original_config(exported) == spec
    assert parse_original_config(json.dumps(exported)) == spec
    assert parse_original_config(json.dumps(exported).encode()) == spec
    block = exported["blocks"][0]
    assert block["tgt"] == [block["img"][: spec.num_targets]]
    assert exported["params"] == {"p_similarity": 1, "num_random": 0} and block["roles"] == [0, 1]


def test_context_spec_validation():
    good = dict(images=tuple(IDS), num_targets=3, speaker_order=tuple(IDS), listener_order=tuple(reversed(IDS)))
    spec = ContextSpec(**good)
    assert spec.targets == frozenset(IDS[:3])
    assert ContextSpec(**{**good, "images": list(IDS)}) == spec  # sequences are stored as tuples
    bad = [
        {"images": tuple(IDS[:9])},
        {"images": tuple(IDS[:9]) + (IDS[0],)},
        {"images": tuple(IDS[:9]) + ("bad/id",)},
        {"images": "page1-11"},
        {"num_targets": 2},
        {"num_targets": 6},
        {"num_targets": True},
        {"num_targets": 3.0},
        {"speaker_order": tuple(IDS[:9]) + ("other",)},
        {"listener_order": tuple(IDS[:9]) + (IDS[0],)},
        {"listener_order": tuple(IDS[:9]) + ([1],)},
    ]
    for change in bad:
        with pytest.raises(ConfigFormatError):
            ContextSpec(**{**good, **change})


SAMPLE_DIR = Path("/work/shared/data/kilogram-sample/games")


@pytest.mark.skipif(not SAMPLE_DIR.is_dir(), reason="KILOGRAM sample configs not available")
def test_original_sample_configs_parse_and_export_identically():
    files = sorted(SAMPLE_DIR.glob("*.json"))
    assert files
    for path in files:
        raw = path.read_bytes()
        spec = parse_original_config(raw)
        assert to_original_config(spec) == json.loads(raw)


# ------------------------------------------------------------------- generator

POOL = [f"gen-{i:03d}" for i in range(100)]


def test_generate_is_deterministic_and_seed_dependent():
    a = generate_contexts(POOL, 50, seed=7)
    assert a == generate_contexts(POOL, 50, seed=7)
    assert a != generate_contexts(POOL, 50, seed=8)
    # The pool's order and duplicates do not matter.
    assert a == generate_contexts(list(reversed(POOL)) + POOL[:5], 50, seed=7)
    assert generate_contexts(POOL, 0, seed=1) == []


@given(st.integers(0, 2**32), st.integers(10, 40), st.integers(0, 30))
def test_generated_contexts_are_valid(seed, pool_size, count):
    pool = POOL[:pool_size]
    contexts = generate_contexts(pool, count, seed=seed)
    assert len(contexts) == count
    for spec in contexts:
        assert isinstance(spec, ContextSpec)  # validated: 10 distinct, 3-5 targets, permutations
        assert set(spec.images) <= set(pool)
        assert spec.speaker_order != spec.listener_order
        assert parse_original_config(to_original_config(spec)) == spec


def test_generated_target_counts_and_usage():
    contexts = generate_contexts(POOL, 3000, seed=2024)
    shares = Counter(c.num_targets for c in contexts)
    for k, expected in {3: 0.31, 4: 0.38, 5: 0.31}.items():
        assert abs(shares[k] / 3000 - expected) <= 0.03, (k, shares)
    uses = Counter(i for c in contexts for i in c.images)
    assert set(uses) == set(POOL)
    assert max(uses.values()) / min(uses.values()) <= 1.05  # dealt from a deck: near equal
    target_uses = Counter(i for c in contexts for i in c.targets)
    assert set(target_uses) == set(POOL)  # every image is sometimes a target
    # Screen layouts are shuffled: each image sits at every speaker position sometimes.
    first = Counter(c.speaker_order[0] for c in contexts)
    assert len(first) > 90


def test_generate_with_small_pool_and_custom_weights():
    contexts = generate_contexts(POOL[:10], 40, seed=3, target_weights={4: 1.0, 5: 0})
    assert all(set(c.images) == set(POOL[:10]) for c in contexts)
    assert all(c.num_targets == 4 for c in contexts)
    # 11 images: a context may not repeat an image even when the deck is reshuffled mid-context.
    uses = Counter(i for c in generate_contexts(POOL[:11], 110, seed=5) for i in c.images)
    assert max(uses.values()) - min(uses.values()) <= 2


@pytest.mark.parametrize(
    "pool, count, weights",
    [
        (POOL[:9], 1, None),
        (POOL[:9] * 3, 1, None),
        (POOL[:9] + ["bad id"], 1, None),
        (POOL[:9] + [None], 1, None),
        ("abcdefghijkl", 1, None),
        (POOL, -1, None),
        (POOL, 1.5, None),
        (POOL, 1, {}),
        (POOL, 1, {6: 1.0}),
        (POOL, 1, {2: 1.0}),
        (POOL, 1, {3: -1.0, 4: 2.0}),
        (POOL, 1, {3: float("nan")}),
        (POOL, 1, {3: 0, 4: 0}),
        (POOL, 1, {"3": 1.0}),
    ],
)
def test_generate_rejects_bad_arguments(pool, count, weights):
    kwargs = {} if weights is None else {"target_weights": weights}
    with pytest.raises(ValueError) as info:
        generate_contexts(pool, count, seed=0, **kwargs)
    assert str(info.value)
