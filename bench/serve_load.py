#!/usr/bin/env python
"""Load benchmark of live serving: simulated participants through the whole journey, over real HTTP
and websockets, against the production topology started on this machine.

The bench starts and stops everything itself:

* a throwaway PostgreSQL database (``--database-url``; DROPPED and re-created at every start) and a
  dedicated Redis database (``--redis-url``; FLUSHED at start), migrated and set up with ``manage.py``
  (generated tangrams and configs, an untrained compact listener from ``init_policy --listener``
  registered as a policy checkpoint, the model system ``BENCH`` and an open round deploying it, with
  the display delay ``--display-delay`` as the round's ``bot_min_delay_seconds``);
* ``uvicorn --workers N`` (several ASGI processes behind one port), a Celery ``inference`` worker
  (threads, the micro-batcher) and ``manage.py game_clock``, with ``BOT_DISPATCH=celery``,
  ``GAME_CLOCK_IN_PROCESS=0``, ``PARTICIPANT_ENTRY_LIMIT=0`` (the entry throttle would refuse a load
  test from one address), ``GAME_DB_ONE_THREAD=0`` and ``DB_POOL_MAX_SIZE=16`` (the production settings
  for live games on PostgreSQL; ``--env`` overrides any of them, e.g. ``WEB_SWITCH_INTERVAL_US=500``).

The clients are independent of the project (no project imports: ``httpx2`` for pages, ``websockets``
for the game socket). Each participant opens an entry link, consents, plays the practice game (as the
speaker, against the oracle), enters the lobby, polls it until matched, plays the study game as the
speaker against the model listener, fills in the survey and reaches the completion page. Messages come
from a tiny built-in description generator.

Modes:

* ``paced``: people typing, ``--typing`` seconds (default 8-20) before each message; one run per
  ``--games`` value (participants start spread over ``--ramp`` seconds), each until every journey ends.
* ``unpaced``: no typing time, closed-loop participant slots at each of ``--levels`` for
  ``--step-seconds`` each; finds the sustained turns per second before the p95 turn latency doubles
  (relative to the first level).

Per turn the client measures the latency from sending the message to receiving the state of the next
turn. Platform overhead is that latency minus the configured display delay (a bot's answer is held
until then); model time is the turn's stored ``model_latency_seconds``. CPU and memory of every process
come from psutil. After each run the database is checked (SQL, not the project's models): every game a
client played has ended, has exactly the turns the client saw, each stored once with the message the
client sent, and the database holds no game the clients did not play.

    .venv/bin/python bench/serve_load.py --mode paced --games 50,200,500
    .venv/bin/python bench/serve_load.py --mode unpaced --levels 4,8,16,32,64 --step-seconds 30
    .venv/bin/python bench/serve_load.py --games 3 --typing 0.2,0.5 --web-workers 2   # a smoke size

Exit status: 0 when every run had zero errors and the database check passed, 1 otherwise, 2 when the
topology could not be started (the reason on one line).
"""
from __future__ import annotations

import argparse
import asyncio
import http.cookies
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
USER_AGENT = "Mozilla/5.0 (respect-bench serve_load)"
HTTP_TIMEOUT = 60.0
GAME_PATH = re.compile(r"/play/game/(\d+)/")
SYSTEM = "BENCH"
MAX_GET_RETRIES = 3  # per participant; more is a server failing, not a keep-alive race
MIN_FRAME_GAP = 0.15  # seconds between a client's frames: under the site's GAME_FRAME_RATE_LIMIT (8/s)
START_SECONDS = 180  # the servers (web workers, inference worker, /healthz) must be up within this
PING_SECONDS = 30  # one `celery inspect ping` of the inference worker (it waits 2 s for the answer)
LAG_PROBE_SECONDS = 0.05  # how often the client checks how late its own event loop runs


def _last_line(*outputs: str) -> str:
    """The last line of the first output that has any: what a failed command said last."""
    return next((text.strip().splitlines()[-1] for text in outputs if text.strip()), "no output")


class BenchError(RuntimeError):
    """The topology could not be set up; the message says why."""


class ClientError(RuntimeError):
    """A participant met something a browser would not expect (an error page, a bad frame, a close)."""


# --------------------------------------------------------------------------------------------- arguments


def _floats(text: str, name: str, count: int | None = None) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name} must be comma-separated numbers, got {text!r}") from None
    if not values or (count and len(values) != count) or min(values) < 0:
        raise argparse.ArgumentTypeError(f"{name}: {text!r} is not valid")
    return values


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=("Live-serving load benchmark: simulated participants (HTTP + websockets, no project imports) "
                     "against uvicorn workers, Redis, PostgreSQL, a Celery inference worker and the game clock, "
                     "all started here. The database at --database-url is dropped and re-created."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--mode", choices=("paced", "unpaced"), default="paced",
                        help="paced: people typing; unpaced: no typing time, levels of concurrency.")
    parser.add_argument("--games", default="50",
                        help="paced: comma-separated numbers of concurrent participants/games, one run each.")
    parser.add_argument("--typing", default="8,20",
                        help="paced: MIN,MAX seconds to type each message (uniform).")
    parser.add_argument("--ramp", type=float, default=20.0,
                        help="paced: participants arrive spread over this many seconds.")
    parser.add_argument("--levels", default="1,2,4,8,16,32",
                        help="unpaced: comma-separated concurrent participant slots, in increasing order.")
    parser.add_argument("--step-seconds", type=float, default=30.0, help="unpaced: measuring time per level.")
    parser.add_argument("--display-delay", type=float, default=None,
                        help="The round's bot_min_delay_seconds (default 2.0 paced, 0 unpaced).")
    parser.add_argument("--web-workers", type=int, default=2, help="uvicorn --workers.")
    parser.add_argument("--inference-threads", type=int, default=32, help="Celery inference worker --concurrency.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the clients' typing times and messages.")
    parser.add_argument("--port", type=int, default=0, help="Port of the site (0: a free one).")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/respect_bench",
                        help="Throwaway PostgreSQL database (dropped and re-created).")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13",
                        help="A Redis database for the bench alone (flushed).")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "var" / "bench",
                        help="Logs, the built listener model and media.")
    parser.add_argument("--out", type=Path, default=None,
                        help="Result JSON (default WORK_DIR/serve_load-MODE.json).")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="Extra environment for the server processes (repeatable), e.g. DB_CONN_MAX_AGE=60.")
    parser.add_argument("--no-images", action="store_true",
                        help="Do not fetch the game pages' tangram images (browsers do).")
    parser.add_argument("--run-timeout", type=float, default=1800.0, help="Give up on a run after this long.")
    args = parser.parse_args(argv)
    try:
        args.game_counts = [int(x) for x in args.games.split(",") if x.strip()]
        args.level_list = [int(x) for x in args.levels.split(",") if x.strip()]
        args.typing_range = _floats(args.typing, "--typing", 2)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        parser.error(str(exc))
    if not args.game_counts or min(args.game_counts) < 1:
        parser.error("--games needs positive integers")
    if not args.level_list or min(args.level_list) < 1 or args.level_list != sorted(args.level_list):
        parser.error("--levels needs positive integers in increasing order")
    if args.typing_range[0] > args.typing_range[1]:
        parser.error("--typing: MIN must not exceed MAX")
    if args.typing_range[1] >= 28:
        parser.error("--typing: MAX must stay below the 30 s speaker deadline")
    if args.web_workers < 1 or args.inference_threads < 1 or args.step_seconds <= 0 or args.ramp < 0:
        parser.error("--web-workers, --inference-threads and --step-seconds must be positive, --ramp >= 0")
    if args.display_delay is None:
        args.display_delay = 2.0 if args.mode == "paced" else 0.0
    if args.display_delay < 0:
        parser.error("--display-delay must be >= 0")
    for item in args.env:
        if "=" not in item or not item.split("=", 1)[0]:
            parser.error(f"--env {item!r}: use KEY=VALUE")
    for url, name in ((args.database_url, "--database-url"), (args.redis_url, "--redis-url")):
        parts = urllib.parse.urlsplit(url)
        if not parts.hostname or len(parts.path.strip("/")) == 0:
            parser.error(f"{name} {url!r} needs a host and a database")
    if not urllib.parse.urlsplit(args.database_url).scheme.startswith("postgres"):
        parser.error("--database-url must be a postgres:// URL")
    args.out = args.out or args.work_dir / f"serve_load-{args.mode}.json"
    return args


# --------------------------------------------------------------------------------------------- statistics


def pct(values, q: float) -> float | None:
    """The q-th percentile (nearest rank), None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def summary(values) -> dict:
    values = list(values)
    return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99),
            "max": max(values) if values else None}


# --------------------------------------------------------------------------------------------- the topology


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Topology:
    """Database, Redis, setup, and the server processes (each in its own process group)."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.port = args.port or _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.logs = args.work_dir / "logs" / f"{stamp}-{os.getpid()}"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen] = {}
        self.checkpoint_id: int | None = None
        self.env = dict(os.environ)
        for key in ("CELERY_TASK_ALWAYS_EAGER", "BOT_DISPATCH", "GAME_CLOCK_IN_PROCESS"):
            self.env.pop(key, None)
        self.env.update(
            DJANGO_SETTINGS_MODULE="respect_site.settings",
            DATABASE_URL=args.database_url,
            REDIS_URL=args.redis_url,
            CHANNELS_PREFIX="respect-bench",
            DEBUG="0",
            SECRET_KEY="bench-only-secret-key-not-for-production-5d1e",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            BEHIND_HTTPS_PROXY="0",
            SECURE_SSL_REDIRECT="0",
            BOT_DISPATCH="celery",
            GAME_CLOCK_IN_PROCESS="0",
            PARTICIPANT_ENTRY_LIMIT="0",
            # The production settings for live games on PostgreSQL: consumers' database calls in
            # parallel on a thread pool, sharing a bounded connection pool per process.
            GAME_DB_ONE_THREAD="0",
            DB_POOL_MAX_SIZE="16",
            LOG_LEVEL="WARNING",
            RESPECT_VAR_DIR=str(args.work_dir / "var"),
            PYTHONUNBUFFERED="1",
        )
        self.env.update(item.split("=", 1) for item in args.env)

    # --- services -------------------------------------------------------------------------------------

    def reset_services(self) -> None:
        import psycopg
        import redis

        parts = urllib.parse.urlsplit(self.args.database_url)
        name = parts.path.strip("/")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise BenchError(f"database name {name!r}: use letters, digits and _")
        admin = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.Error as exc:
            raise BenchError(f"PostgreSQL at {parts.hostname}:{parts.port or 5432}: {' '.join(str(exc).split())}") from None
        try:
            redis.Redis.from_url(self.args.redis_url, socket_connect_timeout=5).flushdb()
        except redis.RedisError as exc:
            raise BenchError(f"Redis at {self.args.redis_url}: {exc}") from None

    def manage(self, *argv: str, log: str) -> str:
        result = subprocess.run([PY, "manage.py", *argv], cwd=ROOT, env=self.env, capture_output=True, text=True)
        (self.logs / f"{log}.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise BenchError(f"manage.py {' '.join(argv[:2])} failed: {_last_line(result.stderr, result.stdout)}")
        return result.stdout

    def setup(self, progress) -> None:
        progress("database and Redis: reset")
        self.reset_services()
        model = self.args.work_dir / "listener-base"
        build = None
        if not (model / "config.json").exists():
            # Needs no database: built while the database is migrated and filled.
            progress("building the untrained compact listener (init_policy --listener), in the background")
            build_log = open(self.logs / "init_policy.log", "w")
            build = subprocess.Popen([PY, "manage.py", "init_policy", "--listener", "--out", str(model), "--force"],
                                     cwd=ROOT, env=self.env, stdout=build_log, stderr=subprocess.STDOUT)
            build_log.close()
        progress("migrate")
        self.manage("migrate", "--noinput", log="migrate")
        progress("tangrams, configs")
        self.manage("generate_tangrams", "--count", "100", "--seed", "0", log="tangrams")
        self.manage("generate_configs", "--count", "20", "--seed", "0", log="configs")
        if build is not None and build.wait() != 0:
            raise BenchError(f"manage.py init_policy failed: {_last_line((self.logs / 'init_policy.log').read_text())}")
        progress("policy checkpoint, system, round")
        settings = {"timing": {"bot_min_delay_seconds": self.args.display_delay}}
        script = (
            "from games.services.rounds import create_system, launch_round\n"
            "from training.models import PolicyCheckpoint\n"
            f"cp, _ = PolicyCheckpoint.objects.get_or_create(name='bench-listener', defaults={{'base_model': {str(model)!r}}})\n"
            f"create_system({SYSTEM!r}, listener_kind='model', decoder='lexicon', description='serve_load bench')\n"
            f"r = launch_round(systems=[({SYSTEM!r}, cp.pk)], queue_size=20, split='train', seed=0, settings={settings!r})\n"
            "print('CHECKPOINT', cp.pk, 'ROUND', r.number)\n"
        )
        out = self.manage("shell", "-c", script, log="round")
        match = re.search(r"CHECKPOINT (\d+) ROUND (\d+)", out)
        if not match:
            raise BenchError("the round was not created (see round.log)")
        self.checkpoint_id = int(match.group(1))

    # --- processes ------------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "w")
        self.processes[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)
        log.close()

    def start(self, progress) -> None:
        progress(f"starting uvicorn ({self.args.web_workers} workers on port {self.port}), "
                 f"the inference worker, the game clock")
        self._spawn("web", [PY, "-m", "uvicorn", "respect_site.asgi:application", "--host", "127.0.0.1",
                            "--port", str(self.port), "--workers", str(self.args.web_workers), "--no-access-log",
                            "--log-level", "info", "--lifespan", "on", "--ws", "websockets"])
        self.worker_name = f"bench-inference-{os.getpid()}@{socket.gethostname()}"
        self._spawn("inference", [PY, "-m", "celery", "-A", "respect_site", "worker", "-Q", "inference", "-n",
                                  self.worker_name, "--pool", "threads", "--concurrency",
                                  str(self.args.inference_threads), "--purge", "--without-gossip", "--without-mingle"])
        self._spawn("clock", [PY, "manage.py", "game_clock"])
        began = time.monotonic()
        deadline = began + START_SECONDS
        web_started, ping = 0, "not asked yet (asked once the web workers are up)"
        while web_started < self.args.web_workers or ping != "pong":
            for name, process in self.processes.items():
                if process.poll() is not None:
                    said = _last_line((self.logs / f"{name}.log").read_text())
                    raise BenchError(f"{name} exited ({process.returncode}): {said}")
            if time.monotonic() > deadline:
                raise BenchError(f"the servers did not start within {START_SECONDS} s: web workers started "
                                 f"{web_started} of {self.args.web_workers}, inference worker ping: {ping} "
                                 f"(logs in {self.logs})")
            web_started = (self.logs / "web.log").read_text().count("Application startup complete")
            if web_started >= self.args.web_workers:  # (a ping costs a process start: only once the web is up)
                ping = self._ping_inference_worker()
            time.sleep(0.5)
        # The worker loads the policy in the background as it starts (warm-up): give it a moment.
        import httpx2

        while True:
            try:
                answer = f"HTTP {httpx2.get(f'{self.base}/healthz', timeout=5).status_code}"
            except httpx2.HTTPError as exc:
                answer = f"{type(exc).__name__}: {exc}"
            if answer == "HTTP 200":
                break
            if time.monotonic() > deadline:
                raise BenchError(f"/healthz did not answer 200 within {START_SECONDS} s of the start: {answer}")
            time.sleep(0.5)
        progress(f"servers up after {time.monotonic() - began:.0f} s")
        time.sleep(2)

    def _ping_inference_worker(self) -> str:
        """'pong' when the bench's inference worker answers a Celery ping, else what happened instead."""
        try:
            ping = subprocess.run([PY, "-m", "celery", "-A", "respect_site", "inspect", "ping", "-d",
                                   self.worker_name, "--timeout", "2"], cwd=ROOT, env=self.env,
                                  capture_output=True, text=True, timeout=PING_SECONDS)
        except subprocess.TimeoutExpired:
            return f"no answer within {PING_SECONDS} s"
        if ping.returncode == 0 and "pong" in ping.stdout:
            return "pong"
        return f"exit {ping.returncode}: {_last_line(ping.stderr, ping.stdout)}"

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()

    def database_now(self) -> datetime:
        import psycopg

        with psycopg.connect(self.args.database_url) as conn:
            return conn.execute("SELECT now()").fetchone()[0]


# --------------------------------------------------------------------------------------------- process monitor


class Monitor:
    """CPU and memory of the bench's processes (and of PostgreSQL / Redis, shared with others), from
    psutil, sampled every second on a thread."""

    def __init__(self, topology: Topology):
        self.topology = topology
        self.samples: dict[int, dict] = {}  # pid -> {role, name, cpu0, cpu, rss_max, rss_sum, n}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="monitor")

    def _processes(self):
        import psutil

        found = []
        for name, process in self.topology.processes.items():
            try:
                parent = psutil.Process(process.pid)
                for p in [parent, *parent.children(recursive=True)]:
                    role = name
                    if name == "web":  # uvicorn's supervisor (and multiprocessing's helper) and its workers
                        helper = p.pid == parent.pid or any("resource_tracker" in a for a in p.cmdline())
                        role = "web supervisor" if helper else "web worker"
                    found.append((role, p))
            except psutil.NoSuchProcess:
                pass
        found.append(("client", psutil.Process(os.getpid())))
        for p in psutil.process_iter(["name"]):
            pname = (p.info.get("name") or "")
            if pname.startswith("postgres"):
                found.append(("postgres", p))
            elif pname.startswith("redis-server"):
                found.append(("redis", p))
        return found

    def _sample(self) -> None:
        import psutil

        now: dict[str, list[int]] = {}  # role -> [live processes, their RSS summed] at this sample
        for role, p in self._processes():
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    cpu = t.user + t.system
                    rss = p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            live = now.setdefault(role, [0, 0])
            live[0] += 1
            live[1] += rss
            s = self.samples.get(p.pid)
            if s is None:
                # A process born during the run: all its CPU time falls in the run.
                born_during = getattr(self, "started", None) is not None and p.create_time() > self.started_wall
                self.samples[p.pid] = {"role": role, "pid": p.pid, "cpu0": 0.0 if born_during else cpu, "cpu": cpu,
                                       "rss_max": rss, "rss_sum": rss, "n": 1}
            else:
                s["cpu"] = cpu
                s["rss_max"] = max(s["rss_max"], rss)
                s["rss_sum"] += rss
                s["n"] += 1
        for role, (count, rss) in now.items():
            peak = self.peaks.setdefault(role, [0, 0])
            peak[0], peak[1] = max(peak[0], count), max(peak[1], rss)

    def _run(self) -> None:
        while not self.stop_event.wait(1.0):
            self._sample()

    def __enter__(self):
        import psutil

        self.samples.clear()
        self.peaks: dict[str, list[int]] = {}  # role -> [most processes at once, largest summed RSS]
        self.started = time.monotonic()
        self.started_wall = time.time()
        self.system0 = psutil.cpu_times()
        self._sample()
        self.thread = threading.Thread(target=self._run, daemon=True, name="monitor")
        self.stop_event.clear()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        import psutil

        self.stop_event.set()
        self.thread.join()
        self._sample()
        self.seconds = time.monotonic() - self.started
        s1 = psutil.cpu_times()
        busy = lambda t: sum(t) - t.idle - getattr(t, "iowait", 0.0)  # noqa: E731
        self.system_cores_busy = (busy(s1) - busy(self.system0)) / self.seconds
        return False

    def report(self) -> dict:
        per_process, per_role = [], {}
        for s in sorted(self.samples.values(), key=lambda s: (s["role"], s["pid"])):
            cores = (s["cpu"] - s["cpu0"]) / self.seconds
            item = {"role": s["role"], "pid": s["pid"], "cpu_percent": round(100 * cores, 1),
                    "rss_mb_max": round(s["rss_max"] / 2**20, 1), "rss_mb_mean": round(s["rss_sum"] / s["n"] / 2**20, 1)}
            peak = self.peaks.get(s["role"], [0, 0])
            role = per_role.setdefault(s["role"], {"processes": 0, "cpu_percent": 0.0, "most_at_once": peak[0],
                                                   "rss_mb_max": round(peak[1] / 2**20, 1)})
            role["processes"] += 1
            role["cpu_percent"] = round(role["cpu_percent"] + item["cpu_percent"], 1)
            if s["role"] not in ("postgres", "redis") or item["cpu_percent"] >= 1:
                per_process.append(item)
        return {"seconds": round(self.seconds, 1), "machine_cores_busy": round(self.system_cores_busy, 2),
                "load_average": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count(),
                "roles": per_role, "processes": per_process}


# --------------------------------------------------------------------------------------------- the clients

WORDS = {
    "det": ("the", "that", "the one that's", "it's the"),
    "adj": ("tall", "small", "fat", "thin", "tilted", "pointy", "upside down", "sitting", "running", "headless"),
    "noun": ("bird", "person", "house", "boat", "cat", "rocket", "dancer", "fish", "swan", "rabbit", "arrow", "chair"),
    "tail": ("", "", " with a hat", " with its arms up", " facing left", " facing right", " with a long neck",
             " and the other one too", ", not the square one", " kneeling"),
    "fix": ("no, ", "undo that, ", "almost! ", "good, now ", "", "", ""),
}


def describe(rng: random.Random, turn: int) -> str:
    """A message for a turn: a tiny description generator (this is a load test)."""
    text = f"{rng.choice(WORDS['det'])} {rng.choice(WORDS['adj'])} {rng.choice(WORDS['noun'])}{rng.choice(WORDS['tail'])}"
    if turn:
        text = rng.choice(WORDS["fix"]) + text
    return text


@dataclass
class GameRecord:
    interaction: int
    purpose: str  # "practice" or "study"
    sent: dict = field(default_factory=dict)  # turn -> message
    latencies: list = field(default_factory=list)  # [turn, seconds, monotonic time answered, wall time answered]
    sent_wall: dict = field(default_factory=dict)  # turn -> wall-clock time the message was sent
    refused: set = field(default_factory=set)  # turns whose message the site answered with an error frame
    turns: int | None = None  # turns played when the game ended (the server's count)
    reason: str | None = None


@dataclass
class JourneyRecord:
    worker: str
    started: float = 0.0
    ended: float = 0.0
    stage: str = "entry"
    games: list = field(default_factory=list)
    http: list = field(default_factory=list)  # [page, seconds]
    retried: int = 0  # GETs sent again after the server closed a kept-alive connection under them
    completed: bool = False
    error: str | None = None


class Participant:
    """One simulated person with a browser: cookies, pages, the game socket. No project imports."""

    def __init__(self, base: str, worker: str, *, rng: random.Random, typing: tuple[float, float],
                 fetch_images: bool, live: dict):
        self.base = base
        self.worker = worker
        self.rng = rng
        self.typing = typing
        self.fetch_images = fetch_images
        self.cookies: dict[str, str] = {}
        self.record = JourneyRecord(worker)
        self.live = live  # shared counters: games in play now and the peak

    # --- HTTP -------------------------------------------------------------------------------------------

    def _store_cookies(self, response) -> None:
        for header in response.headers.get_list("set-cookie"):
            jar = http.cookies.SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                    self.cookies.pop(name, None)
                else:
                    # Kept whatever its Secure flag: browsers treat http://127.0.0.1 as a secure context.
                    self.cookies[name] = morsel.value

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def request(self, client, method: str, path: str, data: dict | None = None, page: str = "") -> tuple[str, str]:
        """The final path and body, following redirects like a browser."""
        for _ in range(8):
            headers = {"User-Agent": USER_AGENT, "Accept": "text/html,application/json"}
            if self.cookies:
                headers["Cookie"] = self.cookie_header()
            body = None
            if method == "POST":
                token = self.cookies.get("csrftoken", "")
                body = urllib.parse.urlencode({**(data or {}), "csrfmiddlewaretoken": token}).encode()
                headers.update({"Origin": self.base, "Referer": self.base + path, "X-CSRFToken": token,
                                "Content-Type": "application/x-www-form-urlencoded"})
            started = time.monotonic()
            try:
                response = await client.request(method, self.base + path, headers=headers, content=body)
            except Exception as exc:  # httpx2's transport errors
                closed_under_it = type(exc).__name__ in {"ReadError", "WriteError", "RemoteProtocolError"}
                if method != "GET" or not closed_under_it or self.record.retried >= MAX_GET_RETRIES:
                    raise ClientError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
                # Like a browser: a GET that met a kept-alive connection the server was closing at that
                # moment (its idle timeout) is sent again once, on a new connection. Counted.
                self.record.retried += 1
                try:
                    response = await client.request(method, self.base + path, headers=headers, content=body)
                except Exception as again:
                    raise ClientError(f"{method} {path}: {type(again).__name__}: {again} (sent twice)") from None
            self.record.http.append([page or re.sub(r"/\d+/", "/<id>/", path.split("?")[0]), time.monotonic() - started])
            client.cookies.clear()  # this browser keeps its own cookies (self.cookies)
            self._store_cookies(response)
            if response.status_code in (301, 302, 303, 307, 308):
                path = urllib.parse.urljoin(path, response.headers["location"])
                method, data = "GET", None
                continue
            if response.status_code >= 400:
                text = " ".join(re.sub(r"<[^>]+>", " ", response.text).split())
                raise ClientError(f"{method} {path}: HTTP {response.status_code} {text[-160:]}")
            return urllib.parse.urlsplit(path).path, response.text
        raise ClientError(f"{method} {path}: too many redirects")

    # --- the journey ---------------------------------------------------------------------------------------

    async def run(self) -> JourneyRecord:
        import httpx2

        self.record.started = time.monotonic()
        try:
            async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False, trust_env=False) as client:
                await self._journey(client)
            self.record.completed = True
        except ClientError as exc:
            self.record.error = f"{self.record.stage}: {exc}"
        except (asyncio.TimeoutError, TimeoutError):
            self.record.error = f"{self.record.stage}: timed out"
        except Exception as exc:  # websockets' errors and the like: recorded, never crash the run
            self.record.error = f"{self.record.stage}: {type(exc).__name__}: {exc}"
        self.record.ended = time.monotonic()
        return self.record

    async def _journey(self, client) -> None:
        query = urllib.parse.urlencode({"workerId": self.worker, "assignmentId": f"A{self.worker}", "hitId": "BENCH",
                                        "turkSubmitTo": "https://www.mturk.com"})
        path, body = await self.request(client, "GET", f"/play/?{query}", page="/play/ (entry)")
        self.record.stage = "consent"
        if not path.endswith("/consent/"):
            raise ClientError(f"the entry link led to {path}, not the consent page")
        path, body = await self.request(client, "POST", "/play/consent/")
        self.record.stage = "practice"
        if not path.endswith("/instructions/") or "/play/practice/" not in body:
            raise ClientError(f"consent led to {path} without the practice form")
        path, body = await self.request(client, "POST", "/play/practice/")
        match = GAME_PATH.search(path)
        if not match:
            raise ClientError(f"the practice form led to {path}, not a game")
        await self.play(client, int(match.group(1)), "practice", body)
        self.record.stage = "lobby"
        path, body = await self.request(client, "GET", "/play/instructions/")
        if "/play/lobby/enter/" not in body:
            raise ClientError("the instructions page after the practice game has no lobby button")
        path, body = await self.request(client, "POST", "/play/lobby/enter/")
        if not path.endswith("/lobby/"):
            raise ClientError(f"entering the lobby led to {path}")
        interaction = await self.wait_in_lobby(client)
        path, body = await self.request(client, "GET", f"/play/game/{interaction}/", page="/play/game/")
        await self.play(client, interaction, "study", body)
        self.record.stage = "survey"
        path, body = await self.request(client, "GET", "/play/survey/")
        if not path.endswith("/survey/"):
            raise ClientError(f"after the game the site showed {path}, not the survey")
        answers = {name: str(self.rng.randint(1, 6)) for name in sorted(set(re.findall(r'type="radio" name="(\w+)"', body)))}
        if not answers:
            raise ClientError("the survey page has no questions")
        path, body = await self.request(client, "POST", "/play/survey/", {**answers, "comments": ""})
        self.record.stage = "done"
        if not path.endswith("/done/"):
            raise ClientError(f"the survey led to {path}, not the completion page")

    async def wait_in_lobby(self, client) -> int:
        give_up = time.monotonic() + 300
        while time.monotonic() < give_up:
            _, body = await self.request(client, "GET", "/play/lobby/status/")
            status = json.loads(body)
            if status.get("state") == "matched":
                match = GAME_PATH.search(status.get("next_url") or "")
                if not match:
                    raise ClientError("the lobby matched without a game link")
                return int(match.group(1))
            if status.get("state") != "waiting":
                raise ClientError(f"the lobby answered {status.get('state')!r}")
            await asyncio.sleep(2.0)  # the lobby page polls every 2 s
        raise ClientError("still waiting in the lobby after 300 s")

    async def load_images(self, client, images: list[dict]) -> None:
        gate = asyncio.Semaphore(6)

        async def one(url: str) -> None:
            async with gate:
                await self.request(client, "GET", url, page="tangram image")

        await asyncio.gather(*(one(image["url"]) for image in images))

    async def play(self, client, interaction: int, purpose: str, page: str) -> None:
        from websockets.asyncio.client import connect

        self.record.stage = f"{purpose} game"
        game = GameRecord(interaction, purpose)
        self.record.games.append(game)
        images: asyncio.Future | None = None
        sent_at: dict[int, float] = {}
        last_sent = float("-inf")
        url = f"ws://{self.base.split('://', 1)[1]}/ws/play/{interaction}/"
        async with connect(url, origin=self.base, additional_headers={"Cookie": self.cookie_header()},
                           user_agent_header=USER_AGENT, open_timeout=HTTP_TIMEOUT, proxy=None,
                           close_timeout=5) as ws:
            self.live["now"] += 1
            self.live["peak"] = max(self.live["peak"], self.live["now"])
            try:
                async with asyncio.timeout(600):
                    async for raw in ws:
                        frame = json.loads(raw)
                        if frame.get("type") == "error":
                            game.refused.update(sent_at)  # the site said no: refused, not lost
                            raise ClientError(f"error frame {frame.get('code')}: {frame.get('message')}")
                        if frame.get("type") != "state":
                            raise ClientError(f"unexpected frame {frame.get('type')!r}")
                        state = frame["state"]
                        now, wall = time.monotonic(), time.time()
                        turn = state["turn"]
                        for k in [k for k in sent_at if turn > k or state["outcome"] is not None]:
                            game.latencies.append([k, now - sent_at.pop(k), now, wall])
                        if images is None and self.fetch_images:
                            # Like a browser: the images load in parallel (6 at a time) while the
                            # person reads the page; typing does not wait for them.
                            images = asyncio.ensure_future(self.load_images(client, state["images"]))
                        if state["outcome"] is not None:
                            if images is not None:
                                await images
                            game.turns, game.reason = turn, state["outcome"]["reason"]
                            if state["outcome"]["reason"] not in ("success", "turn_limit"):
                                # A message still unanswered reached the site after its deadline: the
                                # site ends the game idle and refuses it (too late), it is not lost.
                                unanswered = {k for k in game.sent if k >= turn}
                                game.refused |= unanswered
                                game.latencies = [item for item in game.latencies if item[0] not in unanswered]
                                raise ClientError(f"the game ended as {state['outcome']['reason']}")
                            return
                        if state["role"] != "speaker":
                            raise ClientError(f"seated as the {state['role']}")
                        if state["can_send"] and turn not in game.sent:
                            await asyncio.sleep(self.rng.uniform(*self.typing))
                            # Never faster than the site's per-connection frame limit (8 a second by
                            # default): an unpaced speaker would be refused, as a flooding browser is.
                            await asyncio.sleep(max(0.0, last_sent + MIN_FRAME_GAP - time.monotonic()))
                            last_sent = time.monotonic()
                            text = describe(self.rng, turn)
                            game.sent[turn] = text
                            sent_at[turn], game.sent_wall[turn] = time.monotonic(), time.time()
                            await ws.send(json.dumps({"type": "utterance", "turn": turn, "text": text}))
            finally:
                self.live["now"] -= 1
                if images is not None and not images.done():
                    images.cancel()
        raise ClientError(f"the websocket of game {interaction} closed before the game ended")


# --------------------------------------------------------------------------------------------- runs


async def _watch_loop_lag(lags: list) -> None:
    """How late the client's own event loop wakes up: the clients share the machine with the site, and
    a turn's latency includes the time its state waits in this loop."""
    while True:
        before = time.monotonic()
        await asyncio.sleep(LAG_PROBE_SECONDS)
        lags.append(time.monotonic() - before - LAG_PROBE_SECONDS)


async def _until_done(coroutines, people: list, timeout: float, live: dict) -> None:
    """Run the participants; any still going after ``timeout`` seconds are stopped and count as errors."""
    watcher = asyncio.ensure_future(_watch_loop_lag(live["loop_lag"]))
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    watcher.cancel()
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for person in people:
        if not person.record.completed and person.record.error is None:
            person.record.error = f"{person.record.stage}: not finished within --run-timeout ({timeout:g} s)"
            person.record.ended = time.monotonic()
            person.record.started = person.record.started or person.record.ended


async def paced_run(base: str, count: int, args, tag: str, live: dict) -> list[JourneyRecord]:
    rng = random.Random(f"{args.seed}-{tag}")
    people = [Participant(base, f"B{tag}x{i}", rng=random.Random(rng.random()), typing=tuple(args.typing_range),
                          fetch_images=not args.no_images, live=live) for i in range(count)]
    live["people"] = people  # (where each one is, if the bench is stopped)

    async def one(i: int, person: Participant) -> None:
        await asyncio.sleep(args.ramp * i / max(1, count))
        person.record.started = time.monotonic()
        await person.run()

    await _until_done([one(i, p) for i, p in enumerate(people)], people, args.run_timeout, live)
    return [p.record for p in people]


async def unpaced_level(base: str, slots: int, args, tag: str, live: dict) -> tuple[list[JourneyRecord], float, float]:
    """``slots`` closed-loop participants for ``--step-seconds`` (each finishes its current journey)."""
    rng = random.Random(f"{args.seed}-{tag}")
    started = time.monotonic()
    stop_at = started + args.step_seconds
    people: list[Participant] = []
    live["people"] = people

    async def slot(s: int) -> None:
        await asyncio.sleep(0.2 * s)  # a short stagger: not every slot on the same millisecond
        i = 0
        while time.monotonic() < stop_at:
            person = Participant(base, f"B{tag}s{s}x{i}", rng=random.Random(rng.random()), typing=(0.0, 0.0),
                                 fetch_images=not args.no_images, live=live)
            people.append(person)
            person.record.started = time.monotonic()
            await person.run()
            i += 1

    await _until_done([slot(s) for s in range(slots)], people, args.step_seconds + args.run_timeout, live)
    return [p.record for p in people], started, stop_at


# --------------------------------------------------------------------------------------------- verification


def verify(database_url: str, since: datetime, records: list[JourneyRecord]) -> tuple[dict, dict]:
    """Check the database against what the clients saw; returns (verdict, {(game, turn): (stored
    model_latency_seconds, stored listener_seconds, when the server recorded the message, when it
    recorded the answer)}), the two times as Unix times on the server's clock (see ``server_times``)."""
    import psycopg

    games = {g.interaction: g for r in records for g in r.games}
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id, status, end_reason, turn_count, purpose, ended_at, started_at FROM games_interaction "
            "WHERE created_at >= %s",
            (since,)).fetchall()
        turns = conn.execute(
            "SELECT t.interaction_id, t.index, t.utterance, t.model_latency_seconds, t.listener_seconds, "
            "t.speaker_seconds FROM games_turn t JOIN games_interaction i ON i.id = t.interaction_id "
            "WHERE i.created_at >= %s", (since,)).fetchall()
        participants = conn.execute(
            "SELECT stage, count(*) FROM games_participant WHERE created_at >= %s GROUP BY stage", (since,)).fetchall()
    db_games = {row[0]: row for row in rows}
    stored: dict[int, list] = {}
    model: dict[tuple[int, int], tuple] = {}  # (game, turn) -> (model s, listener s, message at, answer at)
    for interaction, index, utterance, latency, listener_seconds, _ in turns:
        stored.setdefault(interaction, []).append((index, utterance))
    times = server_times({row[0]: row[6] for row in rows}, turns)
    for interaction, index, _, latency, listener_seconds, _ in turns:
        model[interaction, index] = (latency, listener_seconds, *times.get((interaction, index), (None, None)))
    problems: list[str] = []
    lost = duplicated = mismatched = not_ended = refused = 0
    for interaction, game in games.items():
        row = db_games.get(interaction)
        if row is None:
            problems.append(f"game {interaction}: not in the database")
            lost += len(game.sent)
            continue
        _, status, reason, turn_count, _, ended_at, _ = row
        if status != "ended" or ended_at is None:
            not_ended += 1
            problems.append(f"game {interaction}: {status}, not ended")
        indexes = [i for i, _ in stored.get(interaction, [])]
        if len(indexes) != len(set(indexes)):
            duplicated += len(indexes) - len(set(indexes))
            problems.append(f"game {interaction}: a turn stored twice")
        expected = set(range(turn_count))
        if set(indexes) != expected:
            problems.append(f"game {interaction}: turns {sorted(set(indexes))} stored, turn count {turn_count}")
        seen = game.turns if game.turns is not None else len(set(game.sent) - game.refused)
        if turn_count != seen:
            problems.append(f"game {interaction}: the client saw {seen} turns, the database has {turn_count}")
        texts = dict(stored.get(interaction, []))
        for index, text in game.sent.items():
            if index not in texts and index in game.refused:
                refused += 1
            elif index not in texts:
                lost += 1
                problems.append(f"game {interaction}: turn {index} was sent but is not stored")
            elif texts[index] != text:
                mismatched += 1
                problems.append(f"game {interaction}: turn {index} stored with another message")
    extra = sorted(set(db_games) - set(games))
    if extra:
        problems.append(f"{len(extra)} games in the database that no client played, e.g. {extra[:5]}")
    open_games = sum(1 for row in rows if row[1] != "ended")
    completed = sum(1 for r in records if r.completed)
    done = dict(participants).get("done", 0)
    if done != completed:
        problems.append(f"{done} participants finished in the database, {completed} journeys completed")
    verdict = {
        "games": len(games), "turns": sum(len(g.sent) for g in games.values()), "turns_stored": len(turns),
        "lost_turns": lost, "refused_turns": refused, "duplicated_turns": duplicated, "mismatched_turns": mismatched,
        "games_not_ended": not_ended, "games_open_in_database": open_games, "games_unknown_to_clients": len(extra),
        "participants_done": done, "ok": not problems, "problems": problems[:20], "problem_count": len(problems),
    }
    return verdict, model


def server_times(started: dict, turns: list) -> dict[tuple[int, int], tuple[float, float]]:
    """When the server recorded each turn's message and its answer, as Unix times: a game's turn 0
    starts at its ``started_at``; each turn's message came ``speaker_seconds`` after its turn started,
    its answer ``listener_seconds`` after the message, and the next turn starts at the answer (the
    games service stamps all three from one ``timezone.now()``). The clients run on the same host, so
    their wall clock and these times can be compared."""
    by_game: dict[int, list] = {}
    for interaction, index, _, _, listener_seconds, speaker_seconds in turns:
        by_game.setdefault(interaction, []).append((index, speaker_seconds, listener_seconds))
    times = {}
    for interaction, rows in by_game.items():
        start = started.get(interaction)
        if start is None:
            continue
        at = start.timestamp()
        for index, speaker_seconds, listener_seconds in sorted(rows):
            if speaker_seconds is None or listener_seconds is None:
                break  # a turn without its timings: the rest of the game cannot be placed
            message_at = at + speaker_seconds
            at = message_at + listener_seconds
            times[interaction, index] = (message_at, at)
    return times


def verify_or_report(database_url: str, since: datetime, records: list[JourneyRecord]) -> tuple[dict, dict]:
    """``verify``, retried while the database refuses connections (e.g. all taken by the servers); a
    check that cannot be made is a failed check."""
    import psycopg

    for attempt in range(10):
        try:
            return verify(database_url, since, records)
        except psycopg.OperationalError as exc:
            problem = f"the database check could not connect: {' '.join(str(exc).split())[:200]}"
            time.sleep(2)
    empty = dict.fromkeys(("games", "turns", "turns_stored", "lost_turns", "refused_turns", "duplicated_turns",
                           "mismatched_turns", "games_not_ended", "games_open_in_database",
                           "games_unknown_to_clients", "participants_done"), 0)
    return {**empty, "ok": False, "problems": [problem], "problem_count": 1}, {}


def measure(records: list[JourneyRecord], model: dict, delay: float, window: tuple[float, float] | None = None) -> dict:
    """Turn latency (all turns; study turns alone), overhead = latency - display delay, model time, and
    the overhead's two parts: after the display time until the server recorded the answer (stored
    listener_seconds - delay: the hold timer and the recording transaction), and the rest (latency -
    listener_seconds: the message's way in, and the new state's way out to the client). Transport is
    split in turn by wall clock: way in = client sent the message until the server recorded it, way
    out = the server recorded the answer until the client received the next state."""
    latency, overhead, model_s, study_latency, study_overhead, late, transport = [], [], [], [], [], [], []
    way_in, way_out = [], []
    for record in records:
        for game in record.games:
            for turn, seconds, at, received_wall in game.latencies:
                if window and not window[0] <= at <= window[1]:
                    continue
                latency.append(seconds * 1000)
                overhead.append((seconds - delay) * 1000)
                m, listener_seconds, message_at, answer_at = model.get((game.interaction, turn), (None,) * 4)
                if m is not None:
                    model_s.append(m * 1000)
                if listener_seconds is not None:
                    late.append((listener_seconds - delay) * 1000)
                    transport.append((seconds - listener_seconds) * 1000)
                if message_at is not None and turn in game.sent_wall:
                    way_in.append((message_at - game.sent_wall[turn]) * 1000)
                    way_out.append((received_wall - answer_at) * 1000)
                if game.purpose == "study":
                    study_latency.append(seconds * 1000)
                    study_overhead.append((seconds - delay) * 1000)
    pages: dict[str, list[float]] = {}
    for record in records:
        for page, seconds in record.http:
            pages.setdefault(page, []).append(seconds * 1000)
    errors = [r.error for r in records if r.error]
    return {
        "journeys": len(records), "completed": sum(r.completed for r in records), "errors": len(errors),
        "gets_retried": sum(r.retried for r in records),
        "error_examples": sorted(set(errors))[:10],
        "study_games_completed": sum(1 for r in records for g in r.games if g.purpose == "study" and g.reason),
        "turns": len(latency),
        "latency_ms": summary(latency), "overhead_ms": summary(overhead), "model_ms": summary(model_s),
        "recorded_after_display_time_ms": summary(late), "transport_ms": summary(transport),
        "way_in_ms": summary(way_in), "way_out_ms": summary(way_out),
        "study_latency_ms": summary(study_latency), "study_overhead_ms": summary(study_overhead),
        "http_ms": summary(v for values in pages.values() for v in values),
        "http_by_page_ms": {page: summary(values) for page, values in sorted(pages.items())},
    }


def _r(value, digits=0):
    return "-" if value is None else f"{value:.{digits}f}"


def print_rows(rows: list[dict], mode: str) -> None:
    first = "games" if mode == "paced" else "slots"
    header = (f"{first:>6} {'done':>5} {'err':>4} {'turns':>6} {'turn/s':>7} {'lat p50':>8} {'lat p95':>8} "
              f"{'ovh p50':>8} {'ovh p95':>8} {'ovh p99':>8} {'late p95':>8} {'trsp p95':>8} {'model p50':>9} {'model p95':>9} {'http p95':>8} "
              f"{'web cpu%':>8} {'lost':>5} {'dup':>4} {'open':>5} {'load':>5}")
    print(header)
    print("-" * len(header))
    for row in rows:
        m, v, mon = row["measured"], row["verified"], row["resources"]
        web = sum(r["cpu_percent"] for k, r in mon["roles"].items() if k.startswith("web"))
        print(f"{row['size']:>6} {m['completed']:>5} {m['errors']:>4} {m['turns']:>6} {row['turns_per_second']:>7.2f} "
              f"{_r(m['latency_ms']['p50']):>8} {_r(m['latency_ms']['p95']):>8} {_r(m['overhead_ms']['p50']):>8} "
              f"{_r(m['overhead_ms']['p95']):>8} {_r(m['overhead_ms']['p99']):>8} "
              f"{_r(m['recorded_after_display_time_ms']['p95']):>8} {_r(m['transport_ms']['p95']):>8} {_r(m['model_ms']['p50'], 1):>9} "
              f"{_r(m['model_ms']['p95'], 1):>9} {_r(m['http_ms']['p95']):>8} {web:>8.0f} "
              f"{v['lost_turns']:>5} {v['duplicated_turns']:>4} {v['games_not_ended'] + v['games_open_in_database']:>5} "
              f"{mon['load_average'][0]:>5.2f}")
    print("(ms; ovh = overhead = turn latency - display delay, of which late = recorded after the display time "
          "(stored listener_seconds - delay) and trsp = the rest (message in, state out); model = stored "
          "model_latency_seconds; open = games not ended; load = 1-min load average at the end)")


def print_resources(row: dict) -> None:
    mon, m = row["resources"], row["measured"]
    print(f"  [{row['size']}] transport p50/p95: way in (sent until the server recorded the message) "
          f"{_r(m['way_in_ms']['p50'])}/{_r(m['way_in_ms']['p95'])} ms, way out (the answer recorded until "
          f"the client had the state) {_r(m['way_out_ms']['p50'])}/{_r(m['way_out_ms']['p95'])} ms")
    lag = row.get("client_loop_lag_ms") or {}
    if lag.get("n"):
        print(f"  [{row['size']}] the client's own event loop woke late (part of every latency above) p50/p95/p99/max "
              f"{_r(lag['p50'])}/{_r(lag['p95'])}/{_r(lag['p99'])}/{_r(lag['max'])} ms")
    roles = ", ".join(f"{name} {r['cpu_percent']:.0f}% / {r['rss_mb_max']:.0f} MB ({r['most_at_once']})"
                      for name, r in sorted(mon["roles"].items()))
    print(f"  [{row['size']}] CPU (100% = one core) / peak RSS summed over the role's processes (most at once): {roles}; "
          f"machine busy {mon['machine_cores_busy']:.2f} of {mon['cores']} cores")


# --------------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    args = parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    # Stopped by a supervisor (SIGTERM) as by Ctrl-C: the servers it started are stopped too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    progress = lambda message: print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)  # noqa: E731
    topology = Topology(args)
    result: dict = {
        "mode": args.mode, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "host": socket.gethostname()},
        "settings": {"web_workers": args.web_workers, "inference_threads": args.inference_threads,
                     "display_delay_seconds": args.display_delay, "typing_seconds": args.typing_range,
                     "ramp_seconds": args.ramp, "seed": args.seed, "fetch_images": not args.no_images,
                     "extra_env": args.env},
        "runs": [],
    }
    ok = True
    live: dict = {"now": 0, "peak": 0, "people": []}
    try:
        topology.setup(progress)
        topology.start(progress)
        monitor = Monitor(topology)
        sizes = args.game_counts if args.mode == "paced" else args.level_list
        baseline_p95 = None
        for n, size in enumerate(sizes):
            tag = f"{os.getpid() % 10000}r{n}"
            since = topology.database_now()
            live["peak"] = live["now"] = 0
            live["loop_lag"] = []
            progress(f"{args.mode} run: {size} {'participants' if args.mode == 'paced' else 'slots'} ...")
            with monitor:
                if args.mode == "paced":
                    records = asyncio.run(paced_run(topology.base, size, args, tag, live))
                    window = None
                else:
                    records, start, stop = asyncio.run(unpaced_level(topology.base, size, args, tag, live))
                    window = (start, stop)
            time.sleep(1.5)  # let held answers and the clock settle before reading the database
            verdict, model = verify_or_report(args.database_url, since, records)
            measured = measure(records, model, args.display_delay, window)
            span = (window[1] - window[0]) if window else max(r.ended for r in records) - min(r.started for r in records)
            row = {"size": size, "measured": measured, "verified": verdict, "resources": monitor.report(),
                   "turns_per_second": round(measured["turns"] / span, 2), "seconds": round(span, 1),
                   "peak_concurrent_games": live["peak"],
                   "client_loop_lag_ms": summary([1000 * lag for lag in live["loop_lag"]])}
            result["runs"].append(row)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=1, default=str))  # kept if a later run is stopped
            ok = ok and measured["errors"] == 0 and verdict["ok"]
            progress(f"{size}: {measured['completed']}/{measured['journeys']} journeys, {measured['errors']} errors, "
                     f"{measured['gets_retried']} GETs sent again, {measured['turns']} turns, overhead p95 {_r(measured['overhead_ms']['p95'])} ms, "
                     f"peak {live['peak']} games at once, database check {'ok' if verdict['ok'] else 'FAILED'}")
            for problem in verdict["problems"][:5]:
                print(f"  database: {problem}")
            for example in measured["error_examples"][:5]:
                print(f"  error: {example}")
            if args.mode == "unpaced":
                p95 = measured["latency_ms"]["p95"]
                if baseline_p95 is None:
                    baseline_p95 = p95
                elif p95 is not None and baseline_p95 and p95 > 2 * baseline_p95:
                    progress(f"p95 latency {p95:.0f} ms is over twice the first level's {baseline_p95:.0f} ms: stopping")
                    break
    except BenchError as exc:
        print(f"serve_load: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        going = [p.record for p in live["people"] if not p.record.completed and p.record.error is None]
        stages = ", ".join(f"{n} in {stage}" for stage, n in sorted(Counter(r.stage for r in going).items()))
        print(f"serve_load: interrupted{f' with participants still going: {stages}' if going else ''}",
              file=sys.stderr)
        return 2
    finally:
        progress("stopping the servers")
        topology.stop()
    if args.mode == "unpaced" and result["runs"]:
        base = result["runs"][0]["measured"]["latency_ms"]["p95"]
        within = [r for r in result["runs"] if r["measured"]["latency_ms"]["p95"] is not None
                  and r["measured"]["latency_ms"]["p95"] <= 2 * base and r["measured"]["errors"] == 0]
        best = max(within, key=lambda r: r["turns_per_second"]) if within else None
        result["sustained"] = {"baseline_p95_ms": base, "turns_per_second": best and best["turns_per_second"],
                               "slots": best and best["size"]}
    result["ok"] = ok
    result["logs"] = str(topology.logs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str))
    print()
    print(f"serve_load {args.mode}: {args.web_workers} web workers, display delay {args.display_delay:g} s, "
          f"{f'ramp {args.ramp:g} s, ' if args.mode == 'paced' else ''}{os.cpu_count()} cores, {result['date']}")
    print_rows(result["runs"], args.mode)
    for row in result["runs"]:
        print_resources(row)
    if "sustained" in result:
        s = result["sustained"]
        print(f"sustained before the p95 latency doubles: {_r(s['turns_per_second'], 2)} turns/s "
              f"at {s['slots']} slots (first level's p95 {_r(s['baseline_p95_ms'])} ms)")
    print(f"result: {args.out} | logs: {topology.logs} | {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
