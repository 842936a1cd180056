"""The inference service: micro-batching (any policy), bot turns through it, readiness, and the
Hugging Face policy's prepared-image cache. Nothing here asserts durations (see bench/)."""
import threading
from concurrent.futures import Future

import pytest

from training.policies.base import ActRequest, ActResult, DecodingSettings
from training.services.batching import Answer, MicroBatcher

WAIT = 30  # seconds a test waits for a future before failing (never reached when things work)


class FakePolicy:
    """Records the requests of each act call; answers with the request's own id; can be held
    (``gate``) so that requests queue up, and can fail on a poisoned request."""

    def __init__(self, name="fake", lane="lane-1", poison=None):
        self.name = name
        self.batch_lane = lane
        self.calls: list[list[ActRequest]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.poison = poison
        self.threads: set[str] = set()

    def act(self, requests):
        self.threads.add(threading.current_thread().name)
        self.calls.append(list(requests))
        self.entered.set()
        assert self.gate.wait(WAIT)
        if self.poison is not None and any(r.interaction_id == self.poison for r in requests):
            raise RuntimeError("poisoned batch")
        first = requests[0].listener_order[0]
        return [
            ActResult(select=frozenset({first}) - r.selection, deselect=frozenset(), raw_output=f"answer {r.interaction_id}",
                      probability=0.5, source="model", extra={"id": r.interaction_id, "decoding": r.decoding})
            for r in requests
        ]


def req(i, decoding=DecodingSettings()):
    return ActRequest(interaction_id=i, turn=0, listener_order=tuple("abcdefghij"), history=(), utterance=f"u{i}",
                      selection=frozenset(), decoding=decoding)


@pytest.fixture
def batchers():
    made = []

    def make(**kwargs):
        made.append(MicroBatcher(**kwargs))
        return made[-1]

    yield make
    for b in made:
        b.close(timeout=5)


def hold(batcher, policy, blocker_id=-1):
    """Occupy the policy's lane with one request until ``policy.gate`` is set; returns its future."""
    policy.gate.clear()
    policy.entered.clear()
    future = batcher.submit(policy, req(blocker_id))
    assert policy.entered.wait(WAIT)
    return future


def sizes(policy):
    return [len(call) for call in policy.calls]


# --- batching -----------------------------------------------------------------------------------------


def test_each_caller_gets_its_own_answer_from_one_batch(batchers):
    b = batchers(window=0.0, max_batch=32)
    policy = FakePolicy()
    blocker = hold(b, policy)
    futures = {i: b.submit(policy, req(i)) for i in range(10)}
    policy.gate.set()
    assert blocker.result(WAIT).result.extra["id"] == -1
    for i, future in futures.items():
        answer = future.result(WAIT)
        assert isinstance(answer, Answer)
        assert answer.result.extra["id"] == i and answer.result.raw_output == f"answer {i}"
        assert answer.batch_size == 10 and answer.wait_seconds >= 0 and answer.compute_seconds >= 0
    assert sizes(policy) == [1, 10]  # the ten waiting requests went in one act call
    assert [r.interaction_id for r in policy.calls[1]] == list(range(10))  # in arrival order


def test_max_batch_splits_what_is_waiting(batchers):
    b = batchers(window=0.0, max_batch=3)
    policy = FakePolicy()
    hold(b, policy)
    futures = [b.submit(policy, req(i)) for i in range(7)]
    policy.gate.set()
    assert [f.result(WAIT).result.extra["id"] for f in futures] == list(range(7))
    assert sizes(policy) == [1, 3, 3, 1]


def test_a_full_batch_does_not_wait_for_the_window(batchers):
    # A window far longer than the test may take: only reaching max_batch can start this batch.
    b = batchers(window=600.0, max_batch=4)
    policy = FakePolicy()
    hold(b, policy)
    futures = [b.submit(policy, req(i)) for i in range(4)]
    policy.gate.set()
    assert [f.result(WAIT).batch_size for f in futures] == [4, 4, 4, 4]
    assert sizes(policy) == [1, 4]


def test_the_window_keeps_a_batch_open_for_late_company(batchers):
    b = batchers(window=600.0, max_batch=3)
    policy = FakePolicy()
    hold(b, policy)
    concurrent = [b.submit(policy, req(i)) for i in range(3)]  # callers came together: company is likely
    policy.gate.set()
    assert [f.result(WAIT).batch_size for f in concurrent] == [3, 3, 3]
    first = b.submit(policy, req(10))
    threading.Event().wait(0.05)
    assert not first.done()  # waiting for company, not answered alone
    rest = [b.submit(policy, req(i)) for i in (11, 12)]
    assert [f.result(WAIT).result.extra["id"] for f in [first, *rest]] == [10, 11, 12]
    assert sizes(policy) == [1, 3, 3]


def test_a_lone_request_on_a_quiet_lane_does_not_wait_for_the_window(batchers):
    # One client at a time: nothing else is queued and no batch held company lately, so the window
    # (far longer than the test may take) is never waited.
    b = batchers(window=600.0, max_batch=32)
    policy = FakePolicy()
    for i in range(3):
        answer = b.act(policy, req(i), timeout=WAIT)
        assert answer.batch_size == 1 and answer.wait_seconds < 1.0
    assert sizes(policy) == [1, 1, 1]


def test_a_request_after_the_window_goes_in_the_next_batch(batchers):
    b = batchers(window=0.0, max_batch=32)
    policy = FakePolicy()
    assert b.act(policy, req(0), timeout=WAIT).batch_size == 1
    assert b.act(policy, req(1), timeout=WAIT).batch_size == 1
    assert sizes(policy) == [1, 1]


def test_batches_group_by_policy_and_decoding_on_a_shared_lane(batchers):
    b = batchers(window=0.0, max_batch=32)
    one, two = FakePolicy("one", lane="base-A"), FakePolicy("two", lane="base-A")  # two adapters, one base
    hot = DecodingSettings(temperature=2.0)
    hold(b, one)
    plan = [(one, DecodingSettings()), (two, DecodingSettings()), (one, hot), (one, DecodingSettings()), (two, hot)]
    futures = [b.submit(policy, req(i, decoding)) for i, (policy, decoding) in enumerate(plan)]
    one.gate.set()
    for i, f in enumerate(futures):
        assert f.result(WAIT).result.extra["id"] == i
    groups = [
        (policy.name, call[0].decoding, [r.interaction_id for r in call])
        for policy in (one, two) for call in policy.calls[(1 if policy is one else 0):]
    ]
    assert sorted(groups, key=lambda g: g[2]) == [
        ("one", DecodingSettings(), [0, 3]), ("two", DecodingSettings(), [1]), ("one", hot, [2]), ("two", hot, [4]),
    ]
    for policy in (one, two):
        for call in policy.calls:
            assert len({r.decoding for r in call}) == 1
    assert one.threads == two.threads  # one thread owns the base
    assert len(b.status()["lanes"]) == 1


def test_policies_on_different_bases_get_their_own_lanes(batchers):
    b = batchers(window=0.0, max_batch=32)
    slow, fast = FakePolicy("slow", lane="base-A"), FakePolicy("fast", lane="base-B")
    hold(b, slow)
    # The busy lane does not hold up the other one.
    assert b.act(fast, req(1), timeout=WAIT).result.extra["id"] == 1
    slow.gate.set()
    assert slow.threads.isdisjoint(fast.threads)
    lanes = {tuple(lane["policies"]): lane for lane in b.status()["lanes"]}
    assert set(lanes) == {("slow",), ("fast",)}


def test_a_policy_without_a_lane_attribute_uses_its_base_or_itself(batchers):
    from training.policies.base import batch_lane

    class Bare:
        name = "bare"

        def act(self, requests):
            return FakePolicy.act(self.fake, requests)

    shared = object()
    x, y, z = Bare(), Bare(), Bare()
    x.base = y.base = shared
    assert batch_lane(x) == batch_lane(y) != batch_lane(z)
    for p in (x, y, z):
        p.fake = FakePolicy()
    b = batchers(window=0.0, max_batch=8)
    assert [b.act(p, req(i), timeout=WAIT).result.extra["id"] for i, p in enumerate((x, y, z))] == [0, 1, 2]
    assert len(b.status()["lanes"]) == 2


def test_a_failing_batch_is_retried_alone_and_the_lane_survives(batchers):
    b = batchers(window=0.0, max_batch=32)
    policy = FakePolicy(poison=2)
    hold(b, policy)
    futures = [b.submit(policy, req(i)) for i in range(4)]
    policy.gate.set()
    for i, f in enumerate(futures):
        if i == 2:
            with pytest.raises(RuntimeError, match="poisoned"):
                f.result(WAIT)
        else:
            assert f.result(WAIT).result.extra["id"] == i and f.result().batch_size == 1
    assert sizes(policy) == [1, 4, 1, 1, 1, 1]  # the batch of 4 failed, then each alone
    # The lane thread is still there and answers the next request.
    assert b.act(policy, req(9), timeout=WAIT).result.extra["id"] == 9
    [lane] = b.status()["lanes"]
    assert lane["alive"] and lane["failures"] == 2 and lane["queued"] == 0


def test_a_policy_that_answers_too_few_fails_those_requests(batchers):
    class Short(FakePolicy):
        def act(self, requests):
            return super().act(requests)[:-1]

    b = batchers(window=0.0, max_batch=4)
    policy = Short()
    with pytest.raises(RuntimeError, match="answered 0 of 1"):
        b.act(policy, req(0), timeout=WAIT)
    assert b.status()["lanes"][0]["alive"]


def test_a_caller_that_gave_up_is_skipped(batchers):
    b = batchers(window=0.0, max_batch=8)
    policy = FakePolicy()
    hold(b, policy)
    gone = b.submit(policy, req(1))
    kept = b.submit(policy, req(2))
    assert gone.cancel()
    policy.gate.set()
    assert kept.result(WAIT).result.extra["id"] == 2
    assert [r.interaction_id for r in policy.calls[1]] == [2]


def test_act_times_out_and_withdraws_the_request(batchers):
    b = batchers(window=0.0, max_batch=8)
    policy = FakePolicy()
    hold(b, policy)
    with pytest.raises(TimeoutError):
        b.act(policy, req(1), timeout=0.01)
    policy.gate.set()
    assert b.act(policy, req(2), timeout=WAIT).result.extra["id"] == 2
    assert all(r.interaction_id != 1 for call in policy.calls for r in call)


def test_bad_batcher_settings_are_refused():
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(max_batch=0)
    with pytest.raises(ValueError, match="window"):
        MicroBatcher(window=-1)


def test_close_answers_what_is_queued_then_refuses(batchers):
    b = batchers(window=0.0, max_batch=2)
    policy = FakePolicy()
    hold(b, policy)
    futures = [b.submit(policy, req(i)) for i in range(3)]
    closer = threading.Thread(target=b.close)
    closer.start()
    policy.gate.set()
    closer.join(WAIT)
    assert [f.result(WAIT).result.extra["id"] for f in futures] == [0, 1, 2]
    with pytest.raises(RuntimeError, match="closed"):
        b.submit(policy, req(5))


# --- the service: bot turns through the batcher ------------------------------------------------------


@pytest.fixture
def service(settings):
    """A fresh process batcher with a short window; closed afterwards."""
    from training.services import inference

    settings.INFERENCE_BATCH_WINDOW_MS = 1
    settings.INFERENCE_MAX_BATCH = 8
    yield inference
    if inference._batcher is not None:
        inference._batcher.close(timeout=5)
        inference._batcher = None


def test_the_process_batcher_follows_the_settings(service, settings):
    first = service.batcher()
    assert service.batcher() is first and (first.window, first.max_batch) == (0.001, 8)
    settings.INFERENCE_MAX_BATCH = 4
    second = service.batcher()
    assert second is not first and second.max_batch == 4


@pytest.mark.django_db
def test_a_bot_turn_through_the_batcher_is_recorded(service, game_library, notifications):
    from games.models import Turn
    from tests.games.play_support import start, targets_of

    game = start("oracle")
    from games.services import play

    play.submit_utterance(game.pk, game.speaker_id, 0, "the bird")
    assert service.run_bot_turn(game.pk, 0, 1, batched=True) is True
    [turn] = Turn.objects.filter(interaction=game)
    assert (turn.action_source, turn.action_probability) == ("baseline", 1.0)
    assert sorted(turn.selected) == targets_of(game)
    assert turn.model_latency_seconds is not None and turn.model_latency_seconds >= 0
    [lane] = service.service_status()["lanes"]
    assert lane["policies"] == ["oracle"] and lane["requests"] == 1
    # Idempotent: the decided turn is left alone.
    assert service.run_bot_turn(game.pk, 0, 1, batched=True) is False
    assert Turn.objects.filter(interaction=game).count() == 1


@pytest.mark.django_db
def test_a_policy_failure_in_the_batcher_becomes_the_recorded_error_fallback(
    service, game_library, notifications, monkeypatch
):
    from games.models import Turn
    from games.services import play
    from tests.games.play_support import listener_first_image, start

    broken = FakePolicy("broken", poison=None)
    broken.act = lambda requests: (_ for _ in ()).throw(RuntimeError("model exploded"))
    monkeypatch.setattr(service, "get_policy", lambda kind, checkpoint: broken)
    game = start("oracle")
    play.submit_utterance(game.pk, game.speaker_id, 0, "the bird")
    assert service.run_bot_turn(game.pk, 0, 1, batched=True) is True
    [turn] = Turn.objects.filter(interaction=game)
    assert (turn.action_source, turn.action_probability) == ("error", -2.0)
    assert set(turn.selected) | set(turn.deselected) == {listener_first_image(game)}
    assert service.service_status()["lanes"][0]["alive"]


@pytest.mark.django_db
def test_invalid_stored_decoding_settings_become_the_error_fallback(service, game_library, notifications):
    from games.models import System, Turn
    from games.services import play
    from tests.factories import DeploymentFactory
    from tests.games.play_support import start

    deployment = DeploymentFactory(system__listener_kind="oracle", checkpoint=None)
    System.objects.filter(pk=deployment.system_id).update(hyperparameters={"decoding": {"mode": "greedy"}})
    game = start("oracle", deployment=deployment)
    play.submit_utterance(game.pk, game.speaker_id, 0, "the bird")
    assert service.run_bot_turn(game.pk, 0, 1, batched=True) is True
    [turn] = Turn.objects.filter(interaction=game)
    assert turn.action_source == "error"


@pytest.mark.django_db
def test_a_missing_game_is_left_alone(service):
    assert service.run_bot_turn(987_654, 0, 1, batched=True) is False


@pytest.mark.django_db  # the worker thread's wrapper releases database connections
def test_thread_and_celery_dispatch_go_through_the_batcher(settings, monkeypatch):
    from training import dispatch, tasks
    from training.services import inference

    calls = []
    monkeypatch.setattr(inference, "run_bot_turn", lambda *args, **kwargs: calls.append((args, kwargs)))
    tasks.act.run(5, 2, 1)
    dispatch._run_in_thread(6, 3, 1)
    assert calls == [((5, 2, 1), {"block": False, "batched": True}), ((6, 3, 1), {"block": False, "batched": True})]
    settings.BOT_DISPATCH = "inline"
    dispatch.request_bot_action(7, 0, 1)
    assert calls[-1] == ((7, 0, 1), {})  # inline: no batcher


def test_the_health_task_reports_lanes_and_queue(service):
    from training.management.commands.check_workers import inference_summary
    from training.tasks import act_health

    policy = FakePolicy("ckpt-7")
    service.batcher().act(policy, req(0), timeout=WAIT)
    status = act_health.run()
    assert status["pid"] > 0 and status["queued"] == 0 and status["max_batch"] == 8
    [lane] = status["lanes"]
    assert lane["policies"] == ["ckpt-7"] and lane["batches"] == 1 and lane["alive"]
    line = inference_summary(status)
    assert "ckpt-7 (1 batches, mean 1.0, queued 0)" in line and "max 8" in line


@pytest.mark.django_db
def test_warm_up_loads_the_open_rounds_models(service, monkeypatch):
    from django.utils import timezone

    from games.models import Round
    from tests.factories import DeploymentFactory

    open_one = DeploymentFactory(
        system__listener_kind="model", round__status=Round.Status.OPEN, round__opened_at=timezone.now()
    )
    DeploymentFactory(system__listener_kind="model")  # a draft round: not loaded
    loaded = []

    def fake_get_policy(kind, checkpoint_id):
        loaded.append((kind, checkpoint_id))
        if checkpoint_id != open_one.checkpoint_id:
            raise AssertionError("only open rounds")
        return FakePolicy(f"ckpt-{checkpoint_id}")

    monkeypatch.setattr(service, "get_policy", fake_get_policy)
    assert service.warm_up() == [f"ckpt-{open_one.checkpoint_id}"]
    assert loaded == [("model", open_one.checkpoint_id)]


def test_futures_of_the_batcher_are_plain_futures(batchers):
    b = batchers(window=0.0, max_batch=2)
    assert isinstance(b.submit(FakePolicy(), req(0)), Future)


# --- the Hugging Face policy's prepared-image cache (tiny Idefics models) ------------------------------

NAMES = [f"fig{i}" for i in range(14)]


@pytest.fixture(scope="module")
def pngs():
    from games.domain.tangram_render import render_png
    from games.domain.tangrams import generate_figures

    return {name: render_png(figure) for name, figure in zip(NAMES, generate_figures(len(NAMES), seed=5))}


@pytest.fixture(scope="module", params=["idefics3", "idefics2"])
def tiny_base(request, tmp_path_factory):
    import torch

    from training.policies.hf_base import load_base
    from training.policies.tiny import build_tiny

    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("models") / request.param
    build_tiny(path, seed=0, architecture=request.param)
    return load_base(path, device="cpu")


class CountingSource:
    def __init__(self, pngs):
        self.pngs = pngs
        self.asked: list[str] = []

    def __call__(self, names):
        self.asked += list(names)
        return {n: self.pngs[n] for n in names if n in self.pngs}


def varied(n, seed=0):
    import random

    from training.policies.base import PastTurn

    rng = random.Random(seed)
    out = []
    for i in range(n):
        order = tuple(rng.sample(NAMES, 10))
        history = tuple(PastTurn(frozenset(), "the bird", frozenset(order[:1]), frozenset()) for _ in range(i % 3))
        out.append(ActRequest(interaction_id=i, turn=len(history), listener_order=order, history=history,
                              utterance=f"try {i}", selection=frozenset(order[1:1 + i % 4])))
    return out


@pytest.mark.slow
def test_cached_pixels_give_exactly_the_processors_inputs(tiny_base, pngs):
    import torch

    from training.policies.hf import HFPolicy, _assemble_inputs

    policy = HFPolicy(tiny_base, CountingSource(pngs))
    prepared = [policy._prepare(i, r) for i, r in enumerate(varied(5))]
    texts = [p.prompt for p in prepared]
    cached = _assemble_inputs(tiny_base.processor, texts, [p.images for p in prepared])
    direct = tiny_base.processor(
        text=texts, images=[policy.images(p.request.listener_order) for p in prepared], padding=True,
        return_tensors="pt",
    )
    assert set(cached) == set(direct) and "pixel_values" in cached
    for key in direct:
        assert torch.equal(torch.as_tensor(cached[key]), torch.as_tensor(direct[key])), key


@pytest.mark.slow
def test_each_image_is_prepared_once_and_then_served_from_the_cache(tiny_base, pngs):
    import torch

    from training.policies import hf

    source = CountingSource(pngs)
    policy = hf.HFPolicy(tiny_base, source)
    prepared_calls = []
    real = hf._pixel_entry
    requests = varied(6)
    torch.manual_seed(0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hf, "_pixel_entry", lambda *a: prepared_calls.append(1) or real(*a))
        first = policy.act(requests)
        assert policy._pixel_cache_ok is True  # checked against the processor on the first batch
        used = {n for r in requests for n in r.listener_order}
        assert len(prepared_calls) == len(used) and sorted(source.asked) == sorted(used)
        misses = policy.pixel_cache_misses
        second = policy.act(requests)
    assert len(prepared_calls) == len(used) and policy.pixel_cache_misses == misses  # nothing prepared again
    assert policy.pixel_cache_hits >= 60
    assert len(first) == len(second) == 6


@pytest.mark.slow
def test_the_cache_is_bounded_and_keeps_the_images_in_use(tiny_base, pngs):
    from training.policies.hf import HFPolicy

    probe = HFPolicy(tiny_base, CountingSource(pngs))
    entry_bytes = probe.pixels(NAMES[:1])[0].nbytes
    policy = HFPolicy(tiny_base, CountingSource(pngs), pixel_cache_bytes=entry_bytes * 11)
    for r in varied(4, seed=3):
        assert len(policy.pixels(r.listener_order)) == 10
        assert 10 <= len(policy._pixels) <= 11 and policy._pixels.size <= entry_bytes * 11
        assert set(r.listener_order) <= set(policy._pixels)


@pytest.mark.slow
def test_a_processor_the_cache_does_not_match_falls_back_to_the_processor(tiny_base, pngs, monkeypatch, caplog):
    import torch

    from training.policies import hf

    real = hf._assemble_inputs

    def off_by_one(*args, **kwargs):
        inputs = real(*args, **kwargs)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"] + 1
        return inputs

    monkeypatch.setattr(hf, "_assemble_inputs", off_by_one)
    policy = hf.HFPolicy(tiny_base, CountingSource(pngs))
    torch.manual_seed(0)
    results = policy.act(varied(3))
    assert policy._pixel_cache_ok is False and "cache bypassed" in caplog.text
    assert len(results) == 3 and all(r.source in ("model", "cleaned", "fallback") for r in results)


@pytest.mark.slow
def test_scores_are_the_same_with_and_without_the_cache(tiny_base, pngs):
    from training.policies.base import ScoreExample
    from training.policies.hf import HFPolicy

    examples = [ScoreExample(r, frozenset({r.listener_order[5]}), frozenset()) for r in varied(4)]
    cached = HFPolicy(tiny_base, CountingSource(pngs))
    direct = HFPolicy(tiny_base, CountingSource(pngs))
    direct._pixel_cache_ok = False  # the processor path
    assert cached.score(examples) == direct.score(examples)
    assert cached._pixel_cache_ok is True


@pytest.mark.slow
def test_the_hf_policy_runs_on_one_lane_per_base(tiny_base, pngs, batchers):
    import torch

    from training.policies.hf import HFPolicy

    one, two = HFPolicy(tiny_base, CountingSource(pngs)), HFPolicy(tiny_base, CountingSource(pngs), name="other")
    assert one.batch_lane == two.batch_lane
    b = batchers(window=0.0, max_batch=8)
    torch.manual_seed(0)
    requests = varied(4)
    futures = [b.submit(p, r) for p, r in zip((one, two, one, two), requests)]
    for r, f in zip(requests, futures):
        result = f.result(WAIT).result
        assert (result.select | result.deselect) <= set(r.listener_order)
    [lane] = b.status()["lanes"]
    assert sorted(lane["policies"]) == sorted([one.name, "other"])


def test_length_groups_split_rows_of_different_lengths_when_padding_costs_more():
    from training.policies.hf import length_groups

    assert length_groups([], 100) == []
    assert length_groups([50], 100) == [[0]]
    # Similar lengths: one call. Very different ones: two calls, each row kept once, in order.
    assert length_groups([100, 104, 102, 101], 64) == [[0, 1, 2, 3]]
    groups = length_groups([300, 100, 305, 102, 101], 64)
    assert groups == [[1, 3, 4], [0, 2]]
    assert length_groups([300, 100, 305, 102, 101], 10**9) == [[0, 1, 2, 3, 4]]  # calls too dear: never split
    assert length_groups([5, 4, 3], 0) == [[2], [1], [0]]  # free calls: no padding at all


@pytest.mark.slow
def test_a_batch_split_by_length_answers_every_row_in_order(tiny_base, pngs, monkeypatch):
    import torch

    from training.policies.hf import HFPolicy

    policy = HFPolicy(tiny_base, CountingSource(pngs), split_overhead_tokens=0)  # every length its own call
    calls = []
    real = policy._sample

    def recording(model, batch, inputs, cfg):
        calls.append(([p.index for p in batch], inputs["input_ids"].shape, int(inputs["attention_mask"][:, 0].min())))
        return real(model, batch, inputs, cfg)

    monkeypatch.setattr(policy, "_sample", recording)
    requests = varied(6)  # 0, 1 or 2 past turns: three prompt lengths at least
    torch.manual_seed(0)
    for _ in range(2):  # the first batch checks the caches, the second uses them
        results = policy.act(requests)
        assert len(results) == 6
        for r, result in zip(requests, results):
            assert result.deselect <= r.selection and not (result.select & r.selection)
            assert (result.select | result.deselect) <= set(r.listener_order)
    assert len(calls) >= 6 and sorted(i for idx, _, _ in calls[: len(calls) // 2] for i in idx) == list(range(6))
    for _, shape, first_column in calls:
        assert first_column == 1  # no column of pure padding: each call is as short as its longest row


@pytest.mark.slow
def test_cached_image_features_give_the_same_samples_as_encoding_each_batch(tiny_base, pngs):
    import torch

    from training.policies.hf import HFPolicy

    cached = HFPolicy(tiny_base, CountingSource(pngs))
    plain = HFPolicy(tiny_base, CountingSource(pngs), feature_cache_bytes=0)
    requests = varied(5, seed=7)
    for seed in (0, 1):
        torch.manual_seed(seed)
        a = cached.act(requests)
        torch.manual_seed(seed)
        b = plain.act(requests)
        assert [x.raw_output for x in a] == [y.raw_output for y in b]
        for x, y in zip(a, b):
            assert (x.extra["logprob"] is None) == (y.extra["logprob"] is None)
            if x.extra["logprob"] is not None:
                assert x.extra["logprob"] == pytest.approx(y.extra["logprob"], abs=1e-4)
    assert cached._features_ok is True and plain._features_ok is None
    used = {n for r in requests for n in r.listener_order}
    assert cached.feature_cache_misses == len(used)  # each image encoded once, then reused
    assert cached.feature_cache_hits == 2 * 10 * len(requests) - len(used)


@pytest.mark.slow
def test_image_features_that_do_not_match_the_model_are_not_used(tiny_base, pngs, monkeypatch, caplog):
    import torch

    from training.policies.hf import HFPolicy

    real = tiny_base.model.get_image_features

    def skewed(pixel_values, pixel_attention_mask=None, **kwargs):
        out = real(pixel_values=pixel_values, pixel_attention_mask=pixel_attention_mask, **kwargs)
        if pixel_values.shape[1] == 1:  # only the per-image path of the cache
            out.pooler_output = [f + 1 for f in out.pooler_output]
        return out

    monkeypatch.setattr(tiny_base.model, "get_image_features", skewed)
    policy = HFPolicy(tiny_base, CountingSource(pngs))
    torch.manual_seed(0)
    results = policy.act(varied(3))
    assert policy._features_ok is False and "image features differ" in caplog.text
    assert len(results) == 3
    results = policy.act(varied(3))  # later batches encode pixels as the model does
    assert len(results) == 3


@pytest.mark.django_db
def test_an_inference_worker_warms_up_on_start_and_others_do_not(monkeypatch):
    import types

    from kombu import Queue

    from training import tasks
    from training.services import inference

    done = threading.Event()
    monkeypatch.setattr(inference, "warm_up", lambda: done.set() or ["ckpt"])

    def worker(*queues):
        amqp = types.SimpleNamespace(queues=types.SimpleNamespace(consume_from={q: Queue(q) for q in queues}))
        return types.SimpleNamespace(app=types.SimpleNamespace(amqp=amqp))

    tasks._warm_up_inference(sender=worker("feedback", "training"))
    assert not done.wait(0.2)
    tasks._warm_up_inference(sender=worker("inference"))
    assert done.wait(WAIT)
    tasks._warm_up_inference(sender=None)  # not a worker: nothing happens, nothing raises
