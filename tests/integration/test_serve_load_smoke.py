"""The live-serving load benchmark (bench/serve_load.py) at a smoke size: 3 participants through the whole
journey against 2 uvicorn workers, Redis, PostgreSQL, a Celery inference worker and the game clock, all
started by the bench. Run by the services pass (DATABASE_URL / REDIS_URL set); skipped otherwise.

The bench creates (and drops) its own database ``respect_bench_smoke`` on the test run's PostgreSQL server
and flushes Redis database 14 of the test run's Redis server; it never touches the test database.
"""
import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from urllib.parse import quote

import pytest
from django.conf import settings

BENCH = settings.BASE_DIR / "bench" / "serve_load.py"


def _bench_urls() -> tuple[str, str]:
    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db.get("PASSWORD") else "")
    database = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/respect_bench_smoke"
    redis = urllib.parse.urlsplit(settings.REDIS_URL)._replace(path="/14").geturl()
    return database, redis


BENCH_SECONDS = 210  # a smoke run takes ~25 s here; the bench gives up on its servers after 180 s
STOP_SECONDS = 60  # for the bench to stop the servers it started, once told to


def _run_bench(argv: list[str], work_dir) -> subprocess.CompletedProcess:
    """Run the bench; if it overruns, stop it as a supervisor would (SIGTERM: it stops its servers and
    says where its participants were) and fail with what it printed and the end of each server's log."""
    bench = subprocess.Popen([sys.executable, str(BENCH), *argv], cwd=settings.BASE_DIR,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = bench.communicate(timeout=BENCH_SECONDS)
    except subprocess.TimeoutExpired:
        bench.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = bench.communicate(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            bench.kill()
            stdout, stderr = bench.communicate()
        logs = "".join(f"\n--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                       for log in sorted(work_dir.glob("logs/*/*.log")))
        pytest.fail(f"the bench was still running after {BENCH_SECONDS} s\n{stdout[-3000:]}{stderr[-3000:]}{logs}")
    return subprocess.CompletedProcess(bench.args, bench.returncode, stdout, stderr)


@pytest.mark.services
@pytest.mark.timeout(BENCH_SECONDS + STOP_SECONDS + 30)
def test_three_participants_play_through_the_whole_journey_without_errors(tmp_path):
    database, redis = _bench_urls()
    out, work = tmp_path / "result.json", tmp_path / "work"
    completed = _run_bench(
        ["--mode", "paced", "--games", "3", "--typing", "0.05,0.2", "--ramp", "1", "--display-delay", "0.3",
         "--web-workers", "2", "--inference-threads", "4", "--seed", "1", "--run-timeout", "120",
         "--database-url", database, "--redis-url", redis, "--work-dir", str(work), "--out", str(out)],
        work,
    )
    report = completed.stdout[-3000:] + completed.stderr[-3000:]
    assert completed.returncode == 0, report
    result = json.loads(out.read_text())
    [run] = result["runs"]
    measured, verified = run["measured"], run["verified"]
    assert (measured["journeys"], measured["completed"], measured["errors"]) == (3, 3, 0), report
    assert measured["study_games_completed"] == 3
    # From the database: 3 practice + 3 study games, all ended, every turn stored once with its message.
    assert verified["ok"], verified["problems"]
    assert verified["games"] == 6 and verified["participants_done"] == 3
    assert verified["turns"] == verified["turns_stored"] == measured["turns"] >= 6
    assert (verified["lost_turns"], verified["duplicated_turns"], verified["mismatched_turns"]) == (0, 0, 0)
    assert (verified["games_not_ended"], verified["games_open_in_database"], verified["games_unknown_to_clients"]) == (0, 0, 0)
    # Every turn was answered no sooner than the configured display delay, and timed by the model.
    assert measured["latency_ms"]["n"] == measured["turns"] and measured["latency_ms"]["p50"] >= 300
    assert measured["model_ms"]["n"] == measured["turns"]
    # Transport split by wall clock (clients and servers share the host): the message's way in until the
    # server recorded it, and the way out from the recorded answer to the client's state, for every turn.
    assert measured["way_in_ms"]["n"] == measured["way_out_ms"]["n"] == measured["turns"]
    assert measured["way_in_ms"]["p50"] >= 0 and measured["way_out_ms"]["p50"] >= 0
    assert run["client_loop_lag_ms"]["n"] > 0  # how late the client's own loop ran, sampled through the run
    roles = run["resources"]["roles"]
    assert roles["web worker"]["most_at_once"] >= 2 and roles["inference"]["processes"] >= 1 and "clock" in roles
    assert "games" in completed.stdout and "OK" in completed.stdout


@pytest.mark.services
@pytest.mark.timeout(240)
def test_a_bench_told_to_stop_stops_its_servers_and_says_where_its_participants_were(tmp_path):
    """SIGTERM (a supervisor, a CI timeout) stops the bench like Ctrl-C: the servers it started go too,
    and it says at which stage the participants still going were."""
    database, redis = _bench_urls()
    # A long ramp: the first participant plays, the other two have not arrived when it is stopped.
    bench = subprocess.Popen(
        [sys.executable, str(BENCH), "--mode", "paced", "--games", "3", "--ramp", "600", "--web-workers", "1",
         "--inference-threads", "1", "--database-url", database, "--redis-url", redis,
         "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "result.json")],
        cwd=settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = None
    for line in bench.stdout:
        port = port or next(iter(re.findall(r"on port (\d+)", line)), None)
        if "paced run:" in line:
            break
    time.sleep(2)
    socket.create_connection(("127.0.0.1", int(port)), timeout=5).close()  # the site is up
    bench.send_signal(signal.SIGTERM)
    stdout, stderr = bench.communicate(timeout=120)
    assert bench.returncode == 2, stdout + stderr
    assert "interrupted with participants still going: " in stderr and "2 in entry" in stderr, stderr
    assert "stopping the servers" in stdout
    with pytest.raises(OSError):  # nothing listens on the site's port any more
        socket.create_connection(("127.0.0.1", int(port)), timeout=5).close()


def test_bad_arguments_exit_with_a_one_line_reason():
    completed = subprocess.run([sys.executable, str(BENCH), "--typing", "9,3"], cwd=settings.BASE_DIR,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert "--typing: MIN must not exceed MAX" in completed.stderr


def test_the_bench_client_imports_nothing_of_the_project():
    """An independent client: stdlib, httpx2, websockets (and psutil, psycopg, redis for the bench's own
    bookkeeping), never the project's apps; the server side is started as processes."""
    import ast

    project = {"games", "feedback", "training", "frontend", "api", "respect_site", "tests", "bench"}
    tree = ast.parse(BENCH.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert not imported & project, sorted(imported & project)
    assert "django" not in imported


@pytest.mark.services
@pytest.mark.timeout(60)
def test_the_redis_channel_layer_waits_longer_than_five_seconds_for_a_message():
    """Found by the bench: redis-py 8 gives sockets a 5 s read timeout by default, and the channel
    layer's blocking receive then fails in every consumer idle for 5 s (a player typing), dropping
    their websocket. The settings give the layer a longer socket timeout."""
    import asyncio

    from channels.layers import get_channel_layer

    async def idle_then_receive():
        layer = get_channel_layer()
        channel = await layer.new_channel()

        async def later():
            await asyncio.sleep(7)
            await layer.send(channel, {"type": "game.changed"})

        sender = asyncio.ensure_future(later())
        message = await asyncio.wait_for(layer.receive(channel), 20)
        await sender
        return message

    assert asyncio.run(idle_then_receive()) == {"type": "game.changed"}


@pytest.mark.services
@pytest.mark.timeout(60)
def test_the_redis_channel_layer_serves_hundreds_of_operations_at_once():
    """Found by the bench at 500 games: redis-py 8 caps a process's connection pool at 100 and raises
    MaxConnectionsError beyond it, so a web process with hundreds of sockets failed handshakes and
    notifications. The settings raise the cap (CHANNELS_REDIS_MAX_CONNECTIONS)."""
    import asyncio

    from channels.layers import get_channel_layer

    async def at_once():
        layer = get_channel_layer()
        channels = [await layer.new_channel() for _ in range(300)]
        await asyncio.gather(*(layer.group_add("crowd", channel) for channel in channels))
        await asyncio.gather(*(layer.send(channel, {"type": "game.changed"}) for channel in channels))
        await asyncio.gather(*(layer.group_discard("crowd", channel) for channel in channels))
        await layer.flush()

    asyncio.run(at_once())


def _bench_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("serve_load", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("serve_load", module)  # its dataclasses look their module up there
    spec.loader.exec_module(sys.modules["serve_load"])
    return sys.modules["serve_load"]


def test_turn_times_are_placed_from_the_game_start_and_split_the_transport():
    """The server's times of each message and answer come from the game's start and the stored
    speaker/listener seconds; way in + recorded listener time + way out is the client's latency."""
    from datetime import datetime, timezone

    bench = _bench_module()
    start = datetime(2026, 12, 4, 3, 0, 0, tzinfo=timezone.utc)
    t0 = start.timestamp()
    # (game, index, message, model seconds, listener seconds, speaker seconds), in no particular order
    turns = [(7, 1, "b", 0.02, 2.1, 9.0), (7, 0, "a", 0.03, 2.0, 10.0), (8, 0, "c", 0.01, None, 1.0)]
    times = bench.server_times({7: start, 8: start}, turns)
    assert times[7, 0] == pytest.approx((t0 + 10.0, t0 + 12.0))
    assert times[7, 1] == pytest.approx((t0 + 21.0, t0 + 23.1))
    assert (8, 0) not in times  # a turn without its timings cannot be placed

    game = bench.GameRecord(7, "study", sent={0: "a"}, sent_wall={0: t0 + 9.99})
    game.latencies.append([0, 2.05, 0.0, t0 + 12.04])
    record = bench.JourneyRecord("W1", games=[game], completed=True)
    measured = bench.measure([record], {(7, 0): (0.03, 2.0, *times[7, 0])}, delay=2.0)
    assert measured["way_in_ms"]["p50"] == pytest.approx(10, abs=0.01)
    assert measured["way_out_ms"]["p50"] == pytest.approx(40, abs=0.01)
    assert measured["transport_ms"]["p50"] == pytest.approx(50, abs=0.01)


class _Headers(dict):
    def get_list(self, name):
        return []


class _Response:
    status_code, text, headers = 200, "fine", _Headers()


class _FlakyClient:
    """Fails the first ``failures`` requests with an error of the given name, then answers."""

    def __init__(self, failures: int, error_name: str):
        self.failures, self.calls, self.cookies = failures, [], {}
        self.error = type(error_name, (Exception,), {})

    async def request(self, method, url, **kwargs):
        self.calls.append(method)
        if len(self.calls) <= self.failures:
            raise self.error("closed")
        return _Response()


def test_a_get_that_met_a_closing_connection_is_sent_again_and_counted():
    """Like a browser, the client sends a GET again when the server closed the kept-alive connection
    under it; a POST is never sent twice, nor a GET that failed otherwise (each an error)."""
    import asyncio
    import random

    bench = _bench_module()

    def person():
        return bench.Participant("http://127.0.0.1:1", "W1", rng=random.Random(0), typing=(0, 0),
                                 fetch_images=False, live={})

    browser, client = person(), _FlakyClient(1, "ReadError")
    assert asyncio.run(browser.request(client, "GET", "/play/")) == ("/play/", "fine")
    assert client.calls == ["GET", "GET"] and browser.record.retried == 1
    for method, error in (("POST", "ReadError"), ("GET", "ConnectTimeout")):
        browser, client = person(), _FlakyClient(1, error)
        with pytest.raises(bench.ClientError, match=error):
            asyncio.run(browser.request(client, method, "/play/consent/"))
        assert client.calls == [method] and browser.record.retried == 0


def test_the_client_reports_how_late_its_own_event_loop_ran():
    """A client loop held up (here 0.3 s by a blocking call) delays every state it receives: the run
    reports it, so that a latency the client caused is not taken for the site's."""
    import asyncio
    import time

    bench = _bench_module()

    async def blocks_the_loop():
        await asyncio.sleep(0.12)
        time.sleep(0.3)
        await asyncio.sleep(0.2)  # the participants play on: the watcher wakes, late

    live = {"loop_lag": []}
    asyncio.run(bench._until_done([blocks_the_loop()], [], timeout=5, live=live))
    assert max(live["loop_lag"]) >= 0.25
    assert min(live["loop_lag"]) < 0.2
