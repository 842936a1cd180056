"""Study export / import throughput: rows per second and memory growth.

Builds a study of simulated round games (a human-human and a random-listener system: many turns per
game) in a fresh SQLite database under WORKDIR, exports it as JSON lines and as Parquet, then imports
the JSON-lines export into a second fresh database, twice (the second import finds every row and
creates nothing). "trace" exports once more under tracemalloc: the peak of the Python heap.

    .venv/bin/python bench/study_export.py [--games 300] [--workdir /tmp/respect-export-bench]

Each phase runs in its own process (its own DATABASE_URL); the printed "rss +MiB" is the growth of
the process's peak resident memory during the export or import (DEBUG off, so that Django keeps no
query log; pyarrow loaded before measuring).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "respect_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(games: int) -> dict:
    _setup()
    from games.services.configs import generate_configs
    from games.services.rounds import create_system, launch_round
    from games.services.simulation import play_round_games
    from games.services.tangrams import generate_tangrams

    generate_tangrams(count=40, seed=7, fractions={"dev": 0.25, "train": 0.375, "test": 0.375})
    generate_configs(split="train", count=30, seed=1)
    create_system("HH", listener_kind="human")
    create_system("RANDOM", listener_kind="random")
    launch_round(systems=[("HH", None), ("RANDOM", None)], queue_size=30, split="train", seed=0)
    start = time.perf_counter()
    play_round_games(count=games, seed=0, round_number=1)
    return {"games": games, "play_seconds": round(time.perf_counter() - start, 1)}


def export(out: str, format: str) -> dict:
    _setup()
    from training.services.study_export import create_export, run_export

    if format == "parquet":
        import pyarrow.parquet  # noqa: F401  (the library itself is not the export's memory)
    before = _rss_mib()
    start = time.perf_counter()
    done = run_export(create_export(out, format=format).pk)
    seconds = time.perf_counter() - start
    rows = sum(done.counts.values())
    return {"format": format, "rows": rows, "turns": done.counts["turn"], "seconds": round(seconds, 2),
            "rows_per_second": round(rows / seconds), "rss_growth_mib": round(_rss_mib() - before, 1)}


def trace(out: str) -> dict:
    """The largest Python heap (tracemalloc) while exporting, relative to its start: bounded by the
    batches and chunks, whatever the study's size."""
    _setup()
    import tracemalloc

    from training.services.study_export import create_export, run_export

    export = create_export(out, format="jsonl")
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    run_export(export.pk)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return {"python_heap_peak_mib": round(peak / 2**20, 1)}


def import_(path: str) -> dict:
    _setup()
    from training.services.study_import import import_study

    before = _rss_mib()
    start = time.perf_counter()
    report = import_study(path)
    seconds = time.perf_counter() - start
    rows = sum(report.created.values()) + sum(report.existing.values())
    return {"created": sum(report.created.values()), "existing": sum(report.existing.values()),
            "seconds": round(seconds, 2), "rows_per_second": round(rows / seconds),
            "rss_growth_mib": round(_rss_mib() - before, 1)}


def _child(database: Path, *args: str) -> dict:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "BOT_DISPATCH": "inline",
           "TRAINING_DISPATCH": "inline", "RESPECT_DATA_DIR": str(database.parent / "data"), "REDIS_URL": "",
           "DEBUG": "0", "SECRET_KEY": "bench-only-key"}  # DEBUG would keep a log of every query
    out = subprocess.run([sys.executable, __file__, "--child", *args], env=env, check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", type=int, default=300)
    parser.add_argument("--workdir", default="/tmp/respect-export-bench")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        phase, *rest = args.child
        result = {"build": lambda: build(int(rest[0])), "export": lambda: export(*rest), "trace": lambda: trace(*rest),
                  "import": lambda: import_(rest[0])}[phase]()
        print(json.dumps(result))
        return
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source, target = work / "source.sqlite3", work / "target.sqlite3"
    print("build ", _child(source, "build", str(args.games)))
    for format in ("jsonl", "parquet"):
        print("export", _child(source, "export", str(work / f"export-{format}"), format))
    print("trace ", _child(source, "trace", str(work / "export-traced")))
    print("import", _child(target, "import", str(work / "export-jsonl")))
    print("again ", _child(target, "import", str(work / "export-jsonl")))


if __name__ == "__main__":
    main()
