"""The Hugging Face listener backend on the platform's tiny Idefics3 model (built once per session,
saved and loaded through the same code a real checkpoint uses)."""
import json
import math
import random
import shutil

import pytest
import torch
from django.core.management import CommandError, call_command

from games.domain.action_grammar import grammar_complete, grammar_prefix_ok
from games.domain.rules import LETTERS, Action, parse_action
from games.domain.tangram_render import render_png
from games.domain.tangrams import generate_figures
from training.policies import hf_base, registry
from training.policies.base import ActRequest, PastTurn, ScoreExample
from training.policies.common import ImageError
from training.policies.hf import DecodingConfig, HFPolicy
from training.policies.hf_base import PolicyLoadError, load_base, lora_config
from training.policies.loading import SharedBases

torch.set_num_threads(1)  # CI machines share their cores
pytestmark = pytest.mark.slow

NAMES = [f"fig{i}" for i in range(12)]


@pytest.fixture(scope="session")
def pngs():
    return {name: render_png(figure) for name, figure in zip(NAMES, generate_figures(len(NAMES), seed=11))}


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "tiny"
    call_command("init_policy", "--tiny", "--out", str(path), "--seed", "0")
    return path


@pytest.fixture(scope="session")
def base(tiny_path):
    return load_base(tiny_path, device="cpu")


@pytest.fixture(scope="session")
def adapters(tiny_path, tmp_path_factory):
    """Two random (non-zero) LoRA adapters for the tiny base."""
    from peft import get_peft_model
    from transformers import AutoModelForImageTextToText

    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = AutoModelForImageTextToText.from_pretrained(tiny_path, local_files_only=True)
        peft_model = get_peft_model(model, lora_config(init_lora_weights=False))
        path = tmp_path_factory.mktemp("adapters") / f"adapter{seed}"
        peft_model.save_pretrained(path)
        paths.append(path)
    return paths


def source(pngs):
    return lambda names: {n: pngs[n] for n in names if n in pngs}


@pytest.fixture
def policy(base, pngs):
    return HFPolicy(base, source(pngs))


def request(order=None, selection=(), history=(), utterance="the tall one with a hat", turn=0):
    order = tuple(order or NAMES[:10])
    return ActRequest(
        interaction_id=1, turn=turn, listener_order=order, history=tuple(history), utterance=utterance,
        selection=frozenset(selection),
    )


def varied_requests(n, seed=0):
    """Requests with different orders, selections and history lengths (so the batch is padded)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        order = rng.sample(NAMES, 10)
        selection = frozenset(rng.sample(order, rng.choice([0, 1, 3, 9, 10])))
        history = [PastTurn(frozenset(), "the bird", frozenset(order[:1]), frozenset())] * (i % 3)
        out.append(request(order, selection, history, utterance=f"try {i}"))
    return out


def assert_consistent(req, result):
    assert result.select or result.deselect
    assert result.deselect <= req.selection and not (result.select & req.selection)
    assert (result.select | result.deselect) <= set(req.listener_order)


# --- the tiny model -----------------------------------------------------------------------------------


def test_tiny_model_round_trip(tiny_path, base, pngs):
    info = json.loads((tiny_path / "respect_tiny.json").read_text())
    assert info["architecture"] == "idefics3" and base.model_type == "idefics3"
    assert sum(p.numel() for p in base.model.parameters()) < 3_000_000
    tok = base.tokenizer
    for word in ("select", "deselect", *LETTERS):
        assert len(tok(" " + word, add_special_tokens=False)["input_ids"]) == 1
    # The processor's chat template renders the golden layout.
    messages = [
        {"role": "system", "content": [c for x in "AB" for c in ({"type": "image"}, {"type": "text", "text": x})]},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
    ]
    assert base.prompt_text(messages) == "System:<image>A<image>B<end_of_utterance>\nUser: hi<end_of_utterance>\nAssistant:"
    # The vocabulary: verbs, ten letters and the two end tokens.
    assert len(base.vocab.token_ids) == 2 + 10 + 2
    # A second load of the saved files gives the same model.
    again = load_base(tiny_path, device="cpu")
    example = [ScoreExample(request(), frozenset({NAMES[3]}), frozenset())]
    assert HFPolicy(again, source(pngs)).score(example) == HFPolicy(base, source(pngs)).score(example)


def test_the_command_refuses_bad_input(tmp_path):
    with pytest.raises(CommandError, match="--tiny"):
        call_command("init_policy")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="not empty"):
        call_command("init_policy", "--tiny", "--out", str(tmp_path / "x"))
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


# --- acting -------------------------------------------------------------------------------------------


def test_restricted_sampling_only_emits_action_tokens(policy, base):
    torch.manual_seed(0)
    policy.decoding = DecodingConfig(temperature=2.0)
    reqs = varied_requests(12)
    results = policy.act(reqs)
    assert len(results) == len(reqs)
    for req, result in zip(reqs, results):
        assert set(result.extra["token_ids"]) <= set(base.vocab.token_ids)
        assert result.source in ("model", "cleaned", "fallback")
        assert_consistent(req, result)
        if result.source == "fallback":
            assert result.probability == -1.0
            assert (result.select | result.deselect) == {req.listener_order[0]}
        else:
            assert 0 < result.probability <= 1


def test_constrained_mode_always_parses_and_needs_no_cleaning(policy):
    torch.manual_seed(1)
    policy.decoding = DecodingConfig(constrained=True, temperature=3.0)
    reqs = varied_requests(16, seed=1)
    for req, result in zip(reqs, policy.act(reqs)):
        assert result.source == "model" and result.extra["finished"]
        text = result.raw_output.removesuffix("<end_of_utterance>").removesuffix("</s>").strip()
        assert parse_action(text) is not None
        assert_consistent(req, result)
        assert 0 < result.probability <= 1


def test_actions_are_lettered_in_the_listeners_order(policy):
    torch.manual_seed(2)
    policy.decoding = DecodingConfig(constrained=True)
    order = ["fig7", "fig2", "fig9", "fig0", "fig4", "fig1", "fig8", "fig3", "fig6", "fig5"]
    reqs = [request(order, {"fig9", "fig5"}) for _ in range(8)]
    for result in policy.act(reqs):
        action = parse_action(result.raw_output.split("<")[0].strip())
        assert result.select == {order[LETTERS.index(x)] for x in action.select}
        assert result.deselect == {order[LETTERS.index(x)] for x in action.deselect}


def test_probabilities_match_teacher_forcing_and_sum_below_one(policy):
    torch.manual_seed(3)
    policy.decoding = DecodingConfig(constrained=True)
    reqs = varied_requests(6, seed=3)
    results = policy.act(reqs)
    checked = 0
    for req, result in zip(reqs, results):
        # Restriction and grammar only move mass onto fewer tokens.
        assert result.extra["sampling_logprob"] >= result.extra["logprob"] - 1e-4
        if result.raw_output.endswith("<end_of_utterance>"):  # score() writes the template's end token
            [logprob] = policy.score([ScoreExample(req, result.select, result.deselect)])
            assert logprob == pytest.approx(result.extra["logprob"], abs=1e-3)
            assert result.probability == pytest.approx(math.exp(logprob), rel=1e-3)
            checked += 1
    assert checked
    # All one- and two-image selections from an empty selection: disjoint events, total mass <= 1.
    req = request()
    combos = [{a} for a in NAMES[:10]] + [{a, b} for i, a in enumerate(NAMES[:10]) for b in NAMES[i + 1:10]]
    scores = policy.score([ScoreExample(req, frozenset(c), frozenset()) for c in combos], batch_size=64)
    total = sum(math.exp(s) for s in scores)
    assert 0 < total <= 1


def test_probability_can_be_switched_off(policy):
    policy.decoding = DecodingConfig(constrained=True, compute_probability=False)
    [result] = policy.act([request()])
    assert result.probability == -3.0 and result.source == "model"


def test_a_missing_image_is_a_clear_error_for_that_request_only(base, pngs):
    partial = {k: v for k, v in pngs.items() if k != "fig4"}
    policy = HFPolicy(base, source(partial), decoding=DecodingConfig(constrained=True))
    with pytest.raises(ImageError, match="fig4"):
        policy.preflight(NAMES)
    bad, good = request(NAMES[:10], {"fig0"}), request([n for n in NAMES if n != "fig4"][:10])
    first, second = policy.act([bad, good])
    assert (first.source, first.probability, first.deselect, first.select) == ("error", -2.0, {"fig0"}, frozenset())
    assert "fig4" in first.extra["error"]
    assert second.source == "model"
    corrupt = HFPolicy(base, lambda names: {n: b"not a png" for n in names})
    with pytest.raises(ImageError, match="not a readable picture"):
        corrupt.preflight(["fig1"])


# --- adapters and loading -----------------------------------------------------------------------------


def test_two_adapters_share_one_base_and_differ(base, pngs, adapters):
    one = HFPolicy(base, source(pngs), adapter_path=adapters[0])
    two = HFPolicy(base, source(pngs), adapter_path=adapters[1])
    plain = HFPolicy(base, source(pngs))
    assert one.base is two.base is plain.base and one.adapter != two.adapter
    assert HFPolicy(base, source(pngs), adapter_path=adapters[0]).adapter == one.adapter  # loaded once
    examples = [ScoreExample(request(), frozenset({n}), frozenset()) for n in NAMES[:3]]
    s1, s2, s0 = one.score(examples), two.score(examples), plain.score(examples)
    assert s1 != s2 and s0 not in (s1, s2)
    assert one.score(examples) == s1  # switching back and forth is stable
    torch.manual_seed(4)
    one.decoding = DecodingConfig(constrained=True)
    assert one.act([request()])[0].extra["adapter"] == one.adapter


def test_a_trained_adapter_round_trips(tiny_path, pngs, tmp_path):
    """A few SGD steps on one answer raise its log-probability; saved and reloaded, the adapter gives
    the same scores on a fresh base."""
    from peft import get_peft_model

    fresh_base = load_base(tiny_path, device="cpu")
    policy = HFPolicy(fresh_base, source(pngs))
    example = [ScoreExample(request(), frozenset({"fig6"}), frozenset())]
    before = policy.score(example)[0]
    torch.manual_seed(5)
    model = get_peft_model(fresh_base.model, lora_config(r=4, alpha=8, dropout=0.0))
    batch = policy.training_batch(example)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(5):
        optimizer.zero_grad()
        model(**batch).loss.backward()
        optimizer.step()
    model.eval()
    model.save_pretrained(tmp_path / "trained")
    with torch.no_grad():
        batch = policy.training_batch(example)
        labels = batch.pop("labels")
        logits = model(**batch).logits[:, :-1].log_softmax(-1)
        in_memory = float((logits.gather(-1, labels[:, 1:].clamp(min=0).unsqueeze(-1)).squeeze(-1) * (labels[:, 1:] != -100)).sum())
    reloaded = HFPolicy(load_base(tiny_path, device="cpu"), source(pngs), adapter_path=tmp_path / "trained")
    after = reloaded.score(example)[0]
    assert after == pytest.approx(in_memory, abs=1e-4)
    assert after > before + 1.0


def test_train_terms_tell_whether_greedy_decoding_writes_the_answer(tiny_path, pngs):
    """The teacher-forced greedy flag agrees with greedy generation, before and after the answer is
    learned."""
    fresh_base = load_base(tiny_path, device="cpu")
    policy = HFPolicy(fresh_base, source(pngs))
    example = [ScoreExample(request(), frozenset({"fig6"}), frozenset())]
    torch.manual_seed(5)
    model = fresh_base.model  # every weight trained: the answer is learned in a few steps

    def flag_and_generation():
        model.eval()
        with torch.no_grad():
            flag = bool(policy.train_terms(model, example).greedy[0])
            batch = policy.training_batch(example)
            answer = int((batch.pop("labels") != -100).sum())
            batch.pop("position_ids", None)
            prompt = {k: (v[:, :-answer] if k in ("input_ids", "attention_mask") else v) for k, v in batch.items()}
            out = model.generate(**prompt, do_sample=False, max_new_tokens=answer, pad_token_id=0)
            written = out[0, prompt["input_ids"].shape[1]:].tolist() == batch["input_ids"][0, -answer:].tolist()
        return flag, written

    before = flag_and_generation()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batch = policy.training_batch(example)
    model.train()
    for _ in range(30):
        optimizer.zero_grad()
        model(**batch).loss.backward()
        optimizer.step()
    after = flag_and_generation()
    assert before == (False, False)
    assert after == (True, True)


def test_bad_base_folders_fail_at_load_time(tiny_path, tmp_path):
    with pytest.raises(PolicyLoadError, match="does not exist"):
        load_base(tmp_path / "nowhere")
    with pytest.raises(PolicyLoadError, match="no config.json"):
        load_base(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_path, broken)
    (broken / "model.safetensors").write_bytes((tiny_path / "model.safetensors").read_bytes()[:1000])
    with pytest.raises(PolicyLoadError, match="cannot load the weights"):
        load_base(broken)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(PolicyLoadError, match="unreadable config"):
        load_base(broken)


def test_an_adapter_for_another_base_fails_at_load_time(base, pngs, tiny_path, tmp_path):
    from peft import get_peft_model
    from transformers import AutoConfig, AutoModelForImageTextToText

    config = AutoConfig.from_pretrained(tiny_path)
    config.text_config.hidden_size = 64
    other = get_peft_model(AutoModelForImageTextToText.from_config(config), lora_config())
    other.save_pretrained(tmp_path / "other")
    with pytest.raises(PolicyLoadError, match="does not fit base"):
        HFPolicy(base, source(pngs), adapter_path=tmp_path / "other")
    with pytest.raises(PolicyLoadError, match="does not exist"):
        HFPolicy(base, source(pngs), adapter_path=tmp_path / "missing")
    # The base still answers.
    assert HFPolicy(base, source(pngs), decoding=DecodingConfig(constrained=True)).act([request()])[0].source == "model"


def test_the_idefics2_code_path(tmp_path, pngs):
    """Idefics2 (the study's architecture) loads, acts and scores through the same code."""
    from training.policies.tiny import TinySpec, build_tiny

    build_tiny(tmp_path / "i2", architecture="idefics2", spec=TinySpec(text_layers=1, vision_layers=1))
    base2 = load_base(tmp_path / "i2", device="cpu")
    assert base2.model_type == "idefics2"
    policy = HFPolicy(base2, source(pngs), decoding=DecodingConfig(constrained=True))
    torch.manual_seed(7)
    reqs = varied_requests(3, seed=7)
    for req, result in zip(reqs, policy.act(reqs)):
        assert result.source == "model"
        assert_consistent(req, result)
        if result.raw_output.endswith("<end_of_utterance>"):
            [logprob] = policy.score([ScoreExample(req, result.select, result.deselect)])
            assert logprob == pytest.approx(result.extra["logprob"], abs=1e-3)


def test_the_grammar():
    sel = frozenset({"B", "D"})
    for text in ("", " ", " de", " deselect", " deselect B", " deselect B D select", " deselect D select A J", " select A C"):
        assert grammar_prefix_ok(text, sel), text
    for text in (" select B", " deselect A", " select C A", " select A A", " select A deselect B",
                 " deselect B select", " deselect select", " selectA", " nothing", " A", " select A select C"):
        assert grammar_complete(text, sel) is False, text
    for text in (" select B", " deselect A", " select C A", " select A A", " select A deselect B", " selectA", " A"):
        assert not grammar_prefix_ok(text, sel), text
    assert grammar_complete(" deselect B D select A J", sel) and grammar_complete(" select J", sel)
    assert not grammar_prefix_ok(" de", frozenset())  # nothing to deselect
    assert not grammar_prefix_ok(" select", frozenset(LETTERS))  # nothing left to select


# --- the registry and a live game ---------------------------------------------------------------------


@pytest.fixture
def fresh_registry(monkeypatch):
    monkeypatch.setattr(registry, "_cache", {})
    monkeypatch.setattr(hf_base, "_bases", SharedBases(hf_base.load_base))


@pytest.mark.django_db
def test_the_registry_loads_model_checkpoints_sharing_one_base(tiny_path, adapters, fresh_registry, tangram_library):
    from games.models import Tangram
    from tests.factories import CheckpointFactory

    plain = CheckpointFactory(base_model=str(tiny_path))
    tuned = CheckpointFactory(base_model=str(tiny_path), adapter_path=str(adapters[0]))
    p1, p2 = registry.get_policy("model", plain.pk), registry.get_policy("model", tuned.pk)
    assert p1.base is p2.base and p1.adapter is None and p2.adapter
    order = list(Tangram.objects.values_list("name", flat=True)[:10])
    p2.decoding = DecodingConfig(constrained=True)
    [result] = p2.act([request(order, order[:2])])
    assert result.source == "model" and (result.select | result.deselect) <= set(order)
    missing = CheckpointFactory(base_model=str(tiny_path / "nope"))
    with pytest.raises(registry.PolicyUnavailable, match="does not exist"):
        registry.get_policy("model", missing.pk)
    with pytest.raises(registry.PolicyUnavailable, match="does not exist"):
        registry.get_policy("model", 999_999)


@pytest.mark.django_db
def test_a_bot_game_with_the_tiny_model(
    tiny_path, fresh_registry, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from games.models import Interaction
    from games.services import play
    from tests.factories import CheckpointFactory
    from tests.games.play_support import install_library, start

    settings.BOT_DISPATCH = "inline"
    monkeypatch.setattr(play, "notify_interaction", lambda interaction_id, version=None: None)
    install_library()
    game = start("model", checkpoint=CheckpointFactory(base_model=str(tiny_path)))
    torch.manual_seed(6)
    for k in range(2):
        if Interaction.objects.get(pk=game.pk).status != "playing":
            break
        with django_capture_on_commit_callbacks(execute=True):
            play.submit_utterance(game.pk, game.speaker_id, k, "the tall one with a hat")
    turns = list(game.turns.order_by("index"))
    assert turns
    for turn in turns:
        assert turn.action_source in ("model", "cleaned", "fallback")
        assert turn.action_probability == -1.0 or 0 < turn.action_probability <= 1
        assert turn.selected or turn.deselected


@pytest.mark.django_db
def test_policy_act_runs_one_prompt_by_hand(tiny_path, fresh_registry):
    import io

    from django.core.management.base import CommandError

    from games.models import GameConfig
    from tests.games.play_support import install_library

    install_library()
    config = GameConfig.objects.first()
    out = io.StringIO()
    call_command("policy_act", "--base", str(tiny_path), "--config", config.name, "--utterance", "the bird",
                 "--selected", "B", "--samples", "3", "--constrained", "--show-prompt", stdout=out)
    lines = out.getvalue().splitlines()
    results = [line for line in lines if line.startswith("raw ")]
    assert len(results) == 3
    assert any("B currently selected" in line for line in lines)  # the prompt was shown
    assert all("-> " in line and "p=" in line for line in results)
    for args, reason in [
        (["--base", str(tiny_path), "--config", "nope"], "no game config"),
        (["--base", str(tiny_path / "missing"), "--config", config.name], "tiny"),
        (["--checkpoint", "987654", "--config", config.name], "does not exist"),
        (["--base", str(tiny_path), "--config", config.name, "--selected", "Z"], "letters A-J"),
    ]:
        with pytest.raises(CommandError, match=reason):
            call_command("policy_act", *args, "--utterance", "x", stdout=io.StringIO())


@pytest.mark.parametrize("objective", ["sup", "rl", "kto"])
def test_the_learning_loop_retrains_an_idefics_adapter(tiny_path, pngs, tmp_path, objective):
    """``retrain`` on an Idefics base, through the same ``open_for_training`` a training run uses: the
    desirable action's log-probability rises, and the saved adapter scores the same after reloading."""
    from training.learning.datasets import INTERACTION_TASK, Dataset, TrainingExample
    from training.learning.examples import PlayedTurn
    from training.learning.retrain import RetrainSettings, retrain
    from training.policies.trainable import open_for_training

    def example(select, reward, game):
        turn = PlayedTurn(request=request(), action=Action(select=frozenset({select})), game=game)
        return TrainingExample(turn=turn, task=INTERACTION_TASK, reward=reward, logged_probability=0.3,
                               reference_unrelated_logp=-4.0)

    good = ScoreExample(request(), frozenset({"fig6"}), frozenset())
    before = HFPolicy(load_base(tiny_path, device="cpu"), source(pngs)).score([good])[0]
    rows = [example("fig6", 1.0, "g1")]
    if objective != "sup":
        rows.append(example("fig2", -0.1 if objective == "rl" else -1.0, "g2"))
    policy, model = open_for_training(tiny_path, source(pngs), seed=0)
    settings = RetrainSettings(steps=12, batch_size=2, learning_rate=1e-2, warmup_steps=0, held_out_share=0,
                               log_every=4, eval_every=4)
    report = retrain(policy, model, Dataset(objective=objective, examples=rows, held_out=[]), settings)
    assert len(report.loss_curve) == 3 and report.best_step is None
    model.save_pretrained(tmp_path / "adapter")
    reloaded = HFPolicy(load_base(tiny_path, device="cpu"), source(pngs), adapter_path=tmp_path / "adapter")
    after = reloaded.score([good])[0]
    assert after > before + 0.5
