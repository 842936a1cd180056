"""The compact toggle listener: distribution, acting, scoring, adapters, loading, training."""
import itertools
import math

import pytest
import torch

from games.domain.rules import RuleError, parse_action
from games.domain.tangram_render import render_png
from games.domain.tangrams import generate_figures
from training.learning.supervised import TrainConfig, exact_match_accuracy, train_supervised
from training.policies.adapters import PolicyLoadError
from training.policies.base import ActRequest, PastTurn, ScoreExample
from training.policies.compact_listener import (
    ListenerDecoding, ListenerPolicy, action_log_probs, build_listener, greedy_toggles, image_flags,
    is_listener_folder, load_listener_base, lora_config, sample_toggles,
)

NAMES = [f"fig-{i:02d}" for i in range(14)]


@pytest.fixture(scope="module")
def pngs():
    return {name: render_png(figure) for name, figure in zip(NAMES, generate_figures(len(NAMES), seed=5))}


def source(pngs):
    return lambda names: {n: pngs[n] for n in names if n in pngs}


@pytest.fixture(scope="module")
def listener_path(tmp_path_factory):
    return build_listener(tmp_path_factory.mktemp("models") / "listener", seed=0, corpus=["the tall bird", "undo"])


@pytest.fixture(scope="module")
def base(listener_path):
    return load_listener_base(listener_path)


@pytest.fixture(scope="module")
def adapters(listener_path, tmp_path_factory):
    """Two random LoRA adapters on the listener (B initialised non-zero so they change outputs)."""
    from peft import get_peft_model

    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = get_peft_model(load_listener_base(listener_path).model, lora_config())
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "lora_B" in name:
                    param.normal_(std=0.5)
        path = tmp_path_factory.mktemp("adapters") / f"a{seed}"
        model.save_pretrained(path)
        paths.append(path)
    return paths


def request(selection=(), history=(), utterance="the tall one", order=None, turn=None):
    order = tuple(order or NAMES[:10])
    return ActRequest(
        interaction_id=1, turn=len(history) if turn is None else turn, listener_order=order, history=tuple(history),
        utterance=utterance, selection=frozenset(selection),
    )


def test_action_probabilities_sum_to_one_over_all_non_empty_toggle_sets():
    logits = torch.randn(2, 10) * 2
    toggles = torch.tensor([[float(b) for b in bits] for bits in itertools.product((0, 1), repeat=10) if any(bits)])
    for row in range(2):
        total = action_log_probs(logits[row].expand(len(toggles), 10), toggles).exp().sum()
        assert float(total) == pytest.approx(1.0, abs=1e-4)


def test_log_probs_stay_finite_for_extreme_logits():
    logits = torch.tensor([[-40.0] * 10, [40.0] * 10])
    toggles = torch.zeros(2, 10)
    toggles[:, 3] = 1
    values = action_log_probs(logits, toggles)
    assert torch.isfinite(values).all()
    assert float(values[0]) == pytest.approx(math.log(0.1), abs=1e-3)  # ten equally unlikely single clicks


@pytest.mark.parametrize("logit", [-60.0, -104.0, -120.0, -800.0])
def test_a_click_the_model_finds_near_impossible_is_never_certain(logit):
    """Every toggle very unlikely: the ten single clicks stay equally likely (1 in 10), never above 1."""
    logits = torch.full((2, 10), logit)
    logits[1, 0] = logit - 5.0  # one click even less likely than the other nine
    toggles = torch.zeros(2, 10)
    toggles[:, 3] = 1
    values = action_log_probs(logits, toggles)
    assert (values <= 0).all() and torch.isfinite(values).all()
    assert float(values[0]) == pytest.approx(math.log(0.1), abs=1e-3)
    assert float(values[1]) == pytest.approx(-math.log(9 + math.exp(-5.0)), abs=1e-3)


def test_sampling_is_never_empty_and_greedy_takes_the_best_single_toggle():
    generator = torch.Generator().manual_seed(0)
    logits = torch.full((500, 10), -9.0)
    draws = sample_toggles(logits, 1.0, generator)
    assert (draws.sum(-1) >= 1).all()
    logits = torch.tensor([[-3.0, -1.0, -5.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0]])
    assert greedy_toggles(logits).tolist()[0] == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]


def test_low_temperature_concentrates_sampling():
    logits = torch.tensor([[1.0, -0.5] + [-1.0] * 8]).expand(400, 10)
    sharp = sample_toggles(logits, 0.05, torch.Generator().manual_seed(1))
    flat = sample_toggles(logits, 2.0, torch.Generator().manual_seed(1))
    assert (sharp[:, 0] == 1).all() and (sharp[:, 1:].sum(-1) == 0).all()
    assert float(flat.sum(-1).mean()) > 2


def test_image_flags_describe_the_game_state():
    history = (
        PastTurn(frozenset(), "the bird", frozenset({NAMES[1]}), frozenset()),
        PastTurn(frozenset({NAMES[1]}), "no", frozenset({NAMES[2]}), frozenset({NAMES[1]})),
    )
    flags = image_flags(request(selection={NAMES[2]}, history=history))
    assert flags[1] == [0.0, 0.0, 1.0, 1.0]  # deselected last turn
    assert flags[2] == [1.0, 1.0, 0.0, 0.0]  # selected last turn, selected now
    assert flags[0] == [0.0, 0.0, 0.0, 0.0]


def test_act_answers_each_request_with_an_action_that_fits_its_selection(base, pngs):
    policy = ListenerPolicy(base, source(pngs), seed=0)
    requests = [request(), request(selection={NAMES[0], NAMES[4]}, utterance="no, undo that")] * 10
    results = policy.act(requests)
    assert len(results) == len(requests)
    for req, result in zip(requests, results):
        assert result.select or result.deselect
        assert not result.select & req.selection and result.deselect <= req.selection
        assert result.source == "model" and 0 < result.probability <= 1
        # The recorded text is the action in the listener's letters, parseable by the game's grammar.
        assert parse_action(result.raw_output) is not None


def test_the_recorded_probability_matches_teacher_forced_scoring(base, pngs):
    policy = ListenerPolicy(base, source(pngs), seed=3)
    req = request(selection={NAMES[5]})
    result = policy.act([req])[0]
    [score] = policy.score([ScoreExample(req, select=result.select, deselect=result.deselect)])
    assert math.exp(score) == pytest.approx(result.probability, rel=1e-4)


def test_greedy_decoding_is_deterministic(base, pngs):
    policy = ListenerPolicy(base, source(pngs), decoding=ListenerDecoding(temperature=0))
    first = policy.act([request()])[0]
    assert all(policy.act([request()])[0].select == first.select for _ in range(3))


def test_train_terms_tell_whether_an_action_is_the_greedy_answer(base, pngs):
    policy = ListenerPolicy(base, source(pngs), decoding=ListenerDecoding(temperature=0))
    req = request(selection={NAMES[2]})
    best = policy.act([req])[0]
    other = next(n for n in NAMES[:10] if n not in best.select | best.deselect)
    examples = [
        ScoreExample(req, select=best.select, deselect=best.deselect),
        ScoreExample(req, select=frozenset({other}) - req.selection, deselect=frozenset({other}) & req.selection),
    ]
    with base.active(None) as model:
        terms = policy.train_terms(model, examples)
    assert terms.greedy.tolist() == [True, False]


def test_a_missing_image_gets_the_recorded_error_fallback_and_others_are_answered(base, pngs):
    policy = ListenerPolicy(base, source(pngs), seed=0)
    broken = request(order=[*NAMES[:9], "no-such-figure"])
    bad, good = policy.act([broken, request()])
    assert bad.source == "error" and bad.probability == -2.0 and "no-such-figure" in bad.extra["error"]
    assert good.source == "model"


def test_scoring_refuses_actions_that_do_not_fit(base, pngs):
    policy = ListenerPolicy(base, source(pngs))
    with pytest.raises(RuleError):
        policy.score([ScoreExample(request(), select=frozenset(), deselect=frozenset())])
    with pytest.raises(RuleError):
        policy.score([ScoreExample(request(), select=frozenset({"elsewhere"}), deselect=frozenset())])
    with pytest.raises(RuleError):
        policy.score([ScoreExample(request(), select=frozenset(), deselect=frozenset({NAMES[0]}))])


def test_save_load_round_trip_gives_identical_outputs(base, listener_path, pngs):
    again = load_listener_base(listener_path)
    ex = [ScoreExample(request(), select=frozenset({NAMES[3]}), deselect=frozenset())]
    assert ListenerPolicy(again, source(pngs)).score(ex) == pytest.approx(ListenerPolicy(base, source(pngs)).score(ex))
    assert is_listener_folder(listener_path)


def test_two_adapters_on_one_base_give_different_outputs_and_the_base_is_unchanged(listener_path, adapters, pngs):
    base = load_listener_base(listener_path)
    ex = [ScoreExample(request(), select=frozenset({NAMES[3]}), deselect=frozenset())]
    plain = ListenerPolicy(base, source(pngs)).score(ex)[0]
    first = ListenerPolicy(base, source(pngs), adapter_path=adapters[0])
    second = ListenerPolicy(base, source(pngs), adapter_path=adapters[1])
    a, b = first.score(ex)[0], second.score(ex)[0]
    assert a != pytest.approx(b) and a != pytest.approx(plain)
    assert ListenerPolicy(base, source(pngs)).score(ex)[0] == pytest.approx(plain)
    assert first.score(ex)[0] == pytest.approx(a)  # switching back and forth is stable


def test_each_adapter_carries_its_own_word_grounding(listener_path, adapters, pngs, tmp_path):
    """An adapter whose only change is its word-grounding head changes that adapter's answers alone:
    the base and the other adapters on the same loaded base answer as before."""
    from peft import get_peft_model

    torch.manual_seed(3)
    model = get_peft_model(load_listener_base(listener_path).model, lora_config())
    trainable = {name for name, param in model.named_parameters() if param.requires_grad}
    assert any("word_votes" in name for name in trainable) and any("token_embedding" in name for name in trainable)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "modules_to_save" in name and "word_votes" in name:
                param.normal_(std=0.5)
    model.save_pretrained(tmp_path / "words")

    base = load_listener_base(listener_path)
    ex = [ScoreExample(request(), select=frozenset({NAMES[3]}), deselect=frozenset())]
    plain = ListenerPolicy(base, source(pngs)).score(ex)[0]
    other = ListenerPolicy(base, source(pngs), adapter_path=adapters[0])
    before = other.score(ex)[0]
    regrounded = ListenerPolicy(base, source(pngs), adapter_path=tmp_path / "words").score(ex)[0]
    assert regrounded != pytest.approx(plain, abs=1e-3)
    assert ListenerPolicy(base, source(pngs)).score(ex)[0] == pytest.approx(plain)
    assert other.score(ex)[0] == pytest.approx(before)


def test_a_policy_opened_for_training_answers_with_the_adapter_being_trained(listener_path, pngs, tmp_path):
    """``open_for_training``'s policy scores with its trainable adapter as it is now (a fresh one answers
    as the base does until trained), and that adapter saved and reloaded answers the same."""
    from training.policies.trainable import open_for_training

    ex = [ScoreExample(request(), select=frozenset({NAMES[3]}), deselect=frozenset())]
    plain = ListenerPolicy(load_listener_base(listener_path), source(pngs)).score(ex)[0]
    policy, model = open_for_training(listener_path, source(pngs), seed=3)
    assert policy.score(ex)[0] == pytest.approx(plain, abs=1e-5)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "modules_to_save" in name and "word_votes" in name:
                param.normal_(std=0.5)
    trained = policy.score(ex)[0]
    assert trained != pytest.approx(plain, abs=1e-3)
    model.save_pretrained(tmp_path / "trained")
    reloaded = ListenerPolicy(load_listener_base(listener_path), source(pngs), adapter_path=tmp_path / "trained")
    assert reloaded.score(ex)[0] == pytest.approx(trained, abs=1e-5)


def test_bad_folders_and_foreign_adapters_fail_at_load_time(tmp_path, listener_path, base):
    with pytest.raises(PolicyLoadError, match="does not exist"):
        load_listener_base(tmp_path / "nothing")
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(PolicyLoadError, match="config.json"):
        load_listener_base(tmp_path)
    other = build_listener(tmp_path / "other", seed=1, hidden_size=64, num_heads=4)
    from peft import get_peft_model

    foreign = get_peft_model(load_listener_base(other).model, lora_config())
    foreign.save_pretrained(tmp_path / "foreign")
    with pytest.raises(PolicyLoadError, match="does not fit"):
        base.adapter(tmp_path / "foreign")


def test_supervised_training_learns_a_small_task(listener_path, pngs):
    """Each word tags one figure; the tagged figure sits at a different screen position every time,
    so the model can only find it by looking at the images."""
    base = load_listener_base(listener_path)
    policy = ListenerPolicy(base, source(pngs))
    words = ["bird", "boat", "house", "tree"]
    tagged = dict(zip(words, NAMES[:4]))
    examples = []
    for k in range(64):
        order = list(NAMES[:4]) + list(NAMES[4 + k % 4: 10 + k % 4])
        order = order[k % 10:] + order[: k % 10]  # the tagged figure moves around the screen
        word = words[k % 4]
        examples.append(ScoreExample(request(order=order, utterance=f"the {word}"), frozenset({tagged[word]}), frozenset()))
    before = exact_match_accuracy(policy, base.model, examples)
    report = train_supervised(policy, base.model, examples, TrainConfig(steps=150, batch_size=16, learning_rate=3e-3))
    after = exact_match_accuracy(policy, base.model, examples)
    assert report.final_loss < report.first_loss / 3
    assert before < 0.5 and after > 0.9
    assert not base.model.training


def test_the_registry_picks_the_listener_backend_from_the_base_folder(listener_path, settings, db):
    from training.policies import registry
    from tests.factories import CheckpointFactory

    settings.DATA_DIR = listener_path.parent
    checkpoint = CheckpointFactory(base_model=listener_path.name)
    registry._cache.clear()
    policy = registry.get_policy("model", checkpoint.pk)
    assert isinstance(policy, ListenerPolicy)
    registry._cache.clear()


def test_a_systems_decoding_temperature_reaches_the_listener(base, pngs):
    from training.policies.base import DecodingSettings

    policy = ListenerPolicy(base, source(pngs), seed=0, decoding=ListenerDecoding(temperature=0))
    cold = request(utterance="the tall one")
    hot = ActRequest(**{**cold.__dict__, "decoding": DecodingSettings(temperature=50.0)})
    results = policy.act([cold, hot] * 20)
    assert {r.extra["temperature"] for r in results[0::2]} == {0.0}
    assert {r.extra["temperature"] for r in results[1::2]} == {50.0}
    # Greedy answers never vary; at a very high temperature the toggles are close to coin flips.
    assert len({r.select for r in results[0::2]}) == 1
    assert sum(len(r.select) for r in results[1::2]) / 20 > 3


def test_policy_act_runs_the_compact_listener_by_hand(listener_path, adapters, db):
    import io

    from django.core.management import call_command

    from games.models import GameConfig
    from tests.games.play_support import install_library

    install_library()
    config = GameConfig.objects.first()
    out = io.StringIO()
    call_command("policy_act", "--base", str(listener_path), "--adapter", str(adapters[0]), "--config", config.name,
                 "--utterance", "the bird", "--selected", "B", "--samples", "4", "--temperature", "0", stdout=out)
    results = [line for line in out.getvalue().splitlines() if line.startswith("raw ")]
    assert len(results) == 4 and len(set(results)) == 1  # greedy: the same action every time
    assert all("(p=" in line and "model)" in line for line in results)
