#!/usr/bin/env python
"""Benchmark of the inference service: latency of one turn, and throughput with 1, 8 and 32
concurrent requests, micro-batching on versus off, printed as percentiles and ratios.

Run on demand (not part of the test suite), from the repository root:

    .venv/bin/python bench/inference.py                      # builds the tiny Idefics3 model in a temp dir
    .venv/bin/python bench/inference.py --checkpoint PATH    # a saved base model (Idefics2/3 or compact listener)
    .venv/bin/python bench/inference.py --concurrency 1,8,32 --requests 96 --window-ms 5 --max-batch 32

Clients are closed-loop threads (each sends its next request as soon as the last is answered), all
going through ``training.services.batching.MicroBatcher`` exactly as the inference workers do;
"off" is the same service with ``max_batch=1`` (one request per ``policy.act`` call, in arrival
order). Latency is from submit to answer; "queue" is the part spent waiting (window + batches
ahead), "compute" the ``policy.act`` call. No database: images are rendered from generated
tangrams and given to the policy by a function.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "respect_site.settings")  # the modules used here need no setup

UTTERANCES = (
    "the tall one with a hat", "a bird with its wings open", "the one like a boat", "person kneeling",
    "the rabbit", "a house with a chimney", "select the one that looks like a fish", "the dancing one",
    "no, the other one with the long neck", "undo that and take the one like a cat",
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Latency of one listener turn and throughput at several concurrency levels, micro-batching "
            "on versus off. Builds the tiny Idefics3 model in a temporary folder unless --checkpoint is given."
        )
    )
    parser.add_argument("--checkpoint", type=Path, help="A saved base model folder (default: build the tiny model).")
    parser.add_argument("--adapter", type=Path, help="A LoRA adapter folder for --checkpoint.")
    parser.add_argument("--backend", choices=("auto", "hf", "listener"), default="auto",
                        help="Policy backend; auto reads the folder's config (default auto).")
    parser.add_argument("--concurrency", default="1,8,32", help="Comma-separated client counts (default 1,8,32).")
    parser.add_argument("--requests", type=int, default=96, help="Requests per measurement (default 96).")
    parser.add_argument("--latency-requests", type=int, default=40,
                        help="Sequential requests for the one-turn latency (default 40).")
    parser.add_argument("--window-ms", type=float, default=5.0, help="Batching window in ms (default 5).")
    parser.add_argument("--max-batch", type=int, default=32, help="Largest batch when batching is on (default 32).")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: the machine is shared; 0 = torch's default).")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available).")
    parser.add_argument("--constrained", action="store_true", help="Grammar-constrained decoding for every request.")
    parser.add_argument("--repeat", type=int, default=2,
                        help="Measure each row this many times (interleaved) and keep the fastest (default 2).")
    parser.add_argument("--seed", type=int, default=0, help="Seed for requests, model build and sampling (default 0).")
    args = parser.parse_args(argv)
    try:
        args.levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    except ValueError:
        parser.error("--concurrency must be comma-separated integers")
    if not args.levels or min(args.levels) < 1:
        parser.error("--concurrency needs positive integers")
    if min(args.requests, args.latency_requests, args.max_batch, args.repeat) < 1 or args.window_ms < 0:
        parser.error("--requests, --latency-requests, --max-batch and --repeat must be positive, --window-ms >= 0")
    if args.adapter and not args.checkpoint:
        parser.error("--adapter needs --checkpoint")
    if args.checkpoint and not args.checkpoint.is_dir():
        parser.error(f"--checkpoint {args.checkpoint} is not a folder")
    return args


# ----------------------------------------------------------------------------------------- setup


def tangram_pngs(count: int, seed: int) -> dict[str, bytes]:
    from games.domain.tangram_render import render_png
    from games.domain.tangrams import generate_figures

    return {f"bench-{i:03d}": render_png(f) for i, f in enumerate(generate_figures(count, seed=seed))}


def make_requests(names: list[str], count: int, seed: int, constrained: bool):
    """Varied turns: random listener orders, selections and histories of 0-3 past turns."""
    from training.policies.base import ActRequest, DecodingSettings, PastTurn

    rng = random.Random(seed)
    decoding = DecodingSettings(mode="constrained") if constrained else DecodingSettings()
    requests = []
    for i in range(count):
        order = rng.sample(names, 10)
        selection: frozenset[str] = frozenset()
        history = []
        for _ in range(rng.choice((0, 0, 1, 2, 3))):
            toggled = frozenset(rng.sample(order, rng.choice((1, 2))))
            history.append(PastTurn(selection, rng.choice(UTTERANCES), toggled - selection, toggled & selection))
            selection = (selection | toggled) - (toggled & selection)
        requests.append(ActRequest(
            interaction_id=i, turn=len(history), listener_order=tuple(order), history=tuple(history),
            utterance=rng.choice(UTTERANCES), selection=selection, decoding=decoding,
        ))
    return requests


def load_policy(args, images: dict[str, bytes], folder: Path):
    source = lambda names: {n: images[n] for n in names if n in images}  # noqa: E731
    backend = args.backend
    if backend == "auto":
        backend = "hf"
        try:
            from training.policies.compact_listener import is_listener_folder

            if is_listener_folder(folder):
                backend = "listener"
        except ImportError:
            pass
    if backend == "listener":
        from training.policies.compact_listener import ListenerPolicy, load_listener_base

        return ListenerPolicy(load_listener_base(folder), source, adapter_path=args.adapter, seed=args.seed), backend
    from training.policies.hf import HFPolicy
    from training.policies.hf_base import load_base

    return HFPolicy(load_base(folder, device=args.device), source, adapter_path=args.adapter), backend


# ----------------------------------------------------------------------------------------- measuring


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def run_level(policy, requests, *, concurrency: int, total: int, window: float, max_batch: int) -> dict:
    """``concurrency`` closed-loop clients send ``total`` requests through a fresh batcher."""
    from training.services.batching import MicroBatcher

    batcher = MicroBatcher(window=window, max_batch=max_batch, name="bench")
    records: list[tuple[float, float, float, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def client() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            started = time.perf_counter()
            try:
                answer = batcher.act(policy, requests[i % len(requests)], timeout=300)
            except BaseException as exc:
                with lock:
                    errors.append(exc)
                return
            elapsed = time.perf_counter() - started
            with lock:
                records.append((elapsed, answer.wait_seconds, answer.compute_seconds, answer.batch_size))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    started, cpu_started = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    batcher.close()
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]!r}")
    latency = [r[0] * 1000 for r in records]
    return {
        "throughput": len(records) / elapsed,
        "p50": pct(latency, 50), "p90": pct(latency, 90), "p99": pct(latency, 99),
        "queue_p50": pct([r[1] * 1000 for r in records], 50),
        "compute_p50": pct([r[2] * 1000 for r in records], 50),
        # Mean size of the policy.act calls (each call counted once, not once per request).
        "mean_batch": len(records) / sum(1 / r[3] for r in records),
        "seconds": elapsed,
        # CPU time of this process per request: the cost of a request, less sensitive than wall
        # time to other programs competing for the cores.
        "cpu_ms": cpu * 1000 / len(records),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
        folder = args.checkpoint
        if folder is None:
            from training.policies.tiny import build_tiny

            print("building the tiny Idefics3 model ...", flush=True)
            folder = build_tiny(Path(tmp) / "tiny", seed=args.seed).path
        images = tangram_pngs(40, args.seed)
        policy, backend = load_policy(args, images, folder)
        pool = make_requests(sorted(images), max(64, max(args.levels) * 2), args.seed + 1, args.constrained)
        device = getattr(getattr(policy, "base", None), "device", "cpu")
        window = args.window_ms / 1000

        # Warm up: every image prepared once (the caches of a running worker), first-call costs paid.
        for start in range(0, len(pool), 16):
            policy.act(pool[start: start + 16])
        policy.act(pool[:1])

        print(
            f"backend {backend}: {folder} | device {device} | torch threads {torch.get_num_threads()} | "
            f"window {args.window_ms:g} ms | max batch {args.max_batch} | {args.requests} requests per row, "
            f"fastest of {args.repeat}"
            f"{' | constrained' if args.constrained else ''}"
        )
        one = run_level(policy, pool, concurrency=1, total=args.latency_requests, window=window, max_batch=1)
        print(f"one turn (sequential, no batching): p50 {one['p50']:.1f} ms, p90 {one['p90']:.1f} ms, "
              f"p99 {one['p99']:.1f} ms")
        header = (f"{'clients':>7} {'batching':>8} {'req/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
                  f"{'queue p50':>9} {'compute p50':>11} {'mean batch':>10} {'cpu ms/req':>10}")
        print(header)
        print("-" * len(header))
        rows: dict[tuple[int, str], dict] = {}
        for clients in args.levels:
            for _ in range(args.repeat):  # interleaved, so that a burst of outside load hits both modes
                for mode, max_batch in (("off", 1), ("on", args.max_batch)):
                    r = run_level(policy, pool, concurrency=clients, total=max(args.requests, clients * 2),
                                  window=window, max_batch=max_batch)
                    if (clients, mode) not in rows or r["throughput"] > rows[clients, mode]["throughput"]:
                        rows[clients, mode] = r
            for mode in ("off", "on"):
                r = rows[clients, mode]
                print(f"{clients:>7} {mode:>8} {r['throughput']:>7.1f} {r['p50']:>8.1f} {r['p90']:>8.1f} "
                      f"{r['p99']:>8.1f} {r['queue_p50']:>9.1f} {r['compute_p50']:>11.1f} {r['mean_batch']:>10.1f} "
                      f"{r['cpu_ms']:>10.1f}",
                      flush=True)
        print("throughput, batching on / off: " + ", ".join(
            f"{c} clients {rows[c, 'on']['throughput'] / rows[c, 'off']['throughput']:.2f}x" for c in args.levels
        ))
        top = max(args.levels)
        base_rate = rows[top, "off"]["throughput"]
        ratio = rows[top, "on"]["throughput"] / base_rate
        print(f"at {top} concurrent requests batching gives {ratio:.2f}x the throughput of batch size 1 "
              f"({rows[top, 'on']['throughput']:.1f} vs {base_rate:.1f} req/s; target >= 3x); "
              f"CPU time per request {rows[top, 'off']['cpu_ms'] / rows[top, 'on']['cpu_ms']:.2f}x lower")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"load average at the end {load:.2f} on {os.cpu_count()} cores (other programs distort wall-clock rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
