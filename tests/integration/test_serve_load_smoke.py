"""The live-serving load benchmark (bench/serve_load.py) at a smoke size: 3 participants through the whole
journey against 2 uvicorn workers, Redis, PostgreSQL, a Celery inference worker and the game clock, all
started by the bench. Run by the services pass (DATABASE_URL / REDIS_URL set); skipped otherwise.

The bench creates (and drops) its own database ``respect_bench_smoke`` on the test run's PostgreSQL server
and flushes Redis database 14 of the test run's Redis server; it never touches the test database.
"""
import json
import subprocess
import sys
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


@pytest.mark.services
@pytest.mark.timeout(240)
def test_three_participants_play_through_the_whole_journey_without_errors(tmp_path):
    database, redis = _bench_urls()
    out = tmp_path / "result.json"
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--mode", "paced", "--games", "3", "--typing", "0.05,0.2", "--ramp", "1",
         "--display-delay", "0.3", "--web-workers", "2", "--inference-threads", "4", "--seed", "1",
         "--database-url", database, "--redis-url", redis, "--work-dir", str(tmp_path / "work"), "--out", str(out)],
        cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=220,
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
    roles = run["resources"]["roles"]
    assert roles["web worker"]["most_at_once"] >= 2 and roles["inference"]["processes"] >= 1 and "clock" in roles
    assert "games" in completed.stdout and "OK" in completed.stdout


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
