"""Per-system decoding settings: validated when a system is created or launched, carried in the
bot's request, honoured per request by the Hugging Face policy, ignored by the baselines."""
import math
import random

import pytest

from training.policies.base import ActRequest, DecodingSettings, PastTurn, decoding_from_hyperparameters
from training.policies.hf import DecodingConfig

# --- the settings themselves (pure) --------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    (None, DecodingSettings()),
    ({}, DecodingSettings()),
    ({"temperature": 0.7}, DecodingSettings(temperature=0.7)),
    ({"temperature": 2}, DecodingSettings(temperature=2.0)),
    ({"mode": "constrained"}, DecodingSettings(mode="constrained")),
    ({"temperature": 1.0, "mode": "restricted"}, DecodingSettings(temperature=1.0, mode="restricted")),
])
def test_valid_settings(raw, expected):
    assert DecodingSettings.from_dict(raw) == expected
    assert DecodingSettings.from_dict(expected.to_dict()) == expected


@pytest.mark.parametrize("raw, message", [
    ({"temperature": 0}, "positive"),
    ({"temperature": -1.5}, "positive"),
    ({"temperature": math.inf}, "positive"),
    ({"temperature": "hot"}, "positive"),
    ({"temperature": True}, "positive"),
    ({"mode": "greedy"}, "restricted, constrained"),
    ({"mode": None, "top_p": 0.9}, "unknown decoding settings: top_p"),
    (["constrained"], "must be an object"),
    ("constrained", "must be an object"),
])
def test_invalid_settings_are_refused_in_one_line(raw, message):
    with pytest.raises(ValueError, match=message) as info:
        DecodingSettings.from_dict(raw)
    assert "\n" not in str(info.value)


def test_settings_come_from_the_systems_hyperparameters():
    assert decoding_from_hyperparameters(None) == DecodingSettings()
    assert decoding_from_hyperparameters({"lr": 1e-4}) == DecodingSettings()
    assert decoding_from_hyperparameters({"decoding": {"mode": "constrained"}}).mode == "constrained"
    with pytest.raises(ValueError, match="JSON object"):
        decoding_from_hyperparameters([1, 2])


def test_a_request_defaults_to_the_policys_own_settings():
    request = ActRequest(interaction_id=1, turn=0, listener_order=tuple("abcdefghij"), history=(), utterance="x",
                         selection=frozenset())
    assert request.decoding == DecodingSettings()
    hash(request.decoding)  # batches group by it


def test_settings_override_the_policys_decoding_config():
    default = DecodingConfig(temperature=1.0, constrained=False, max_new_tokens=12)
    assert default.with_settings(DecodingSettings()) is default
    hot = default.with_settings(DecodingSettings(temperature=2.5))
    assert (hot.temperature, hot.constrained, hot.max_new_tokens) == (2.5, False, 12)
    grammar = default.with_settings(DecodingSettings(mode="constrained"))
    assert (grammar.temperature, grammar.constrained) == (1.0, True)
    back = grammar.with_settings(DecodingSettings(mode="restricted"))
    assert back.constrained is False
    assert hash(hot) != hash(default)  # distinct groups in one act call


# --- validation at system creation and round launch ------------------------------------------------------


@pytest.mark.django_db
def test_create_system_refuses_bad_decoding_settings_and_creates_nothing():
    from games.models import System
    from games.services.rounds import RoundError, create_system

    for bad, message in [({"decoding": {"mode": "beam"}}, "decoding mode"), ({"decoding": 1.0}, "object"),
                         ({"decoding": {"temperature": 0}}, "positive")]:
        with pytest.raises(RoundError, match=f"system B-SUP: .*{message}"):
            create_system("B-SUP", listener_kind="model", decoder="binary", objective="sup", hyperparameters=bad)
    assert not System.objects.exists()
    good = {"decoding": {"temperature": 0.8, "mode": "constrained"}, "lr": 1e-4}
    system = create_system("B-SUP", listener_kind="model", decoder="binary", objective="sup", hyperparameters=good)
    assert system.hyperparameters == good


@pytest.mark.django_db
def test_launch_round_refuses_a_system_with_bad_stored_settings(game_library):
    from games.models import Round, System
    from games.services.rounds import RoundError, create_system, launch_round

    create_system("ORACLE", listener_kind="oracle")
    System.objects.filter(name="ORACLE").update(hyperparameters={"decoding": {"mode": "greedy"}})
    with pytest.raises(RoundError, match="system ORACLE: decoding mode"):
        launch_round(systems=[("ORACLE", None)], queue_size=3, split="dev")
    assert not Round.objects.exists()
    System.objects.filter(name="ORACLE").update(hyperparameters={"decoding": {"mode": "constrained"}})
    assert launch_round(systems=[("ORACLE", None)], queue_size=3, split="dev").status == "open"


@pytest.mark.django_db
def test_the_bots_request_carries_its_systems_settings(game_library):
    from training.selectors import bot_request
    from tests.factories import DeploymentFactory
    from tests.games.play_support import start

    deployment = DeploymentFactory(
        system__listener_kind="oracle", checkpoint=None,
        system__hyperparameters={"decoding": {"temperature": 0.5, "mode": "constrained"}},
    )
    game = start("oracle", deployment=deployment)
    assert bot_request(game.pk, 0).decoding == DecodingSettings(temperature=0.5, mode="constrained")
    assert bot_request(start("oracle").pk, 0).decoding == DecodingSettings()  # no deployment: defaults


def test_baselines_ignore_decoding_settings():
    from training.policies.baselines import OraclePolicy, RandomPolicy

    order = tuple("abcdefghij")
    plain = ActRequest(interaction_id=1, turn=0, listener_order=order, history=(), utterance="x",
                       selection=frozenset("a"), targets=frozenset("bc"))
    tuned = ActRequest(**{**plain.__dict__, "decoding": DecodingSettings(temperature=3.0, mode="constrained")})
    assert OraclePolicy().act([plain]) == OraclePolicy().act([tuned])
    assert RandomPolicy(seed=4).act([plain]) == RandomPolicy(seed=4).act([tuned])


# --- honoured per request by the Hugging Face policy (tiny Idefics3) ---------------------------------------

NAMES = [f"fig{i}" for i in range(12)]


@pytest.fixture(scope="module")
def policy_factory(tmp_path_factory):
    import torch

    from games.domain.tangram_render import render_png
    from games.domain.tangrams import generate_figures
    from training.policies.hf import HFPolicy
    from training.policies.hf_base import load_base
    from training.policies.tiny import build_tiny

    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("models") / "tiny"
    build_tiny(path, seed=0)
    base = load_base(path, device="cpu")
    pngs = {n: render_png(f) for n, f in zip(NAMES, generate_figures(len(NAMES), seed=11))}
    return lambda **kwargs: HFPolicy(base, lambda names: {n: pngs[n] for n in names if n in pngs}, **kwargs)


def request(i, decoding=DecodingSettings(), seed=0):
    rng = random.Random(seed * 100 + i)
    order = tuple(rng.sample(NAMES, 10))
    history = (PastTurn(frozenset(), "the bird", frozenset(order[:1]), frozenset()),) * (i % 2)
    selection = frozenset(order[:1]) if i % 2 else frozenset()
    return ActRequest(interaction_id=i, turn=len(history), listener_order=order, history=history,
                      utterance=f"the one like a boat {i}", selection=selection, decoding=decoding)


@pytest.mark.slow
def test_each_request_is_decoded_with_its_own_settings(policy_factory, monkeypatch):
    import torch

    policy = policy_factory()
    calls = []
    real = policy._generate

    def recording(batch, cfg=None):
        calls.append((cfg, [p.index for p in batch]))
        return real(batch, cfg)

    monkeypatch.setattr(policy, "_generate", recording)
    grammar = DecodingSettings(mode="constrained", temperature=2.0)
    hot = DecodingSettings(temperature=3.0)
    requests = [request(0), request(1, grammar), request(2, hot), request(3, grammar), request(4)]
    torch.manual_seed(0)
    results = policy.act(requests)
    assert len(results) == 5
    # One generate call per distinct setting, each with its own requests, in order.
    assert sorted((c.temperature, c.constrained, idx) for c, idx in calls) == [
        (1.0, False, [0, 4]), (2.0, True, [1, 3]), (3.0, False, [2]),
    ]
    modes = [(r.extra["mode"], r.extra["temperature"]) for r in results]
    assert modes == [("restricted", 1.0), ("constrained", 2.0), ("restricted", 3.0), ("constrained", 2.0),
                     ("restricted", 1.0)]
    for req, result in zip(requests, results):
        assert result.deselect <= req.selection and not (result.select & req.selection)
        if req.decoding.mode == "constrained":
            assert result.source == "model"  # the grammar only allows well-formed, consistent actions


@pytest.mark.slow
def test_a_constrained_system_setting_overrides_a_restricted_policy(policy_factory):
    import torch

    policy = policy_factory(decoding=DecodingConfig(temperature=5.0))  # hot: restricted sampling often fails
    torch.manual_seed(1)
    grammar = DecodingSettings(mode="constrained")
    results = policy.act([request(i, grammar, seed=2) for i in range(12)])
    assert all(r.source == "model" and r.extra["mode"] == "constrained" for r in results)
    assert all(r.extra["temperature"] == 5.0 for r in results)  # the policy's own temperature is kept
