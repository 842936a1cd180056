"""bench/switch_interval.py at a smoke size, against the services pass's PostgreSQL server (it runs
only ``SELECT 1``); its argument checks without a server."""
import json
import subprocess
import sys
from urllib.parse import quote

import pytest
from django.conf import settings

BENCH = settings.BASE_DIR / "bench" / "switch_interval.py"


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/postgres"


@pytest.mark.services
@pytest.mark.timeout(120)
def test_the_transaction_is_timed_at_each_interval_beside_computing_threads(tmp_path):
    out = tmp_path / "result.json"
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--database-url", _database_url(), "--threads", "0,1",
         "--intervals-us", "5000,500", "--round-trips", "3", "--transactions", "4", "--out", str(out)],
        capture_output=True, text=True, timeout=100,
    )
    assert completed.returncode == 0, completed.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [(r["threads"], r["interval_us"]) for r in rows] == [(0, 5000), (0, 500), (1, 5000), (1, 500)]
    assert all(r["median_ms"] > 0 and r["p95_ms"] >= r["median_ms"] for r in rows)
    assert [r["compute_blocks_per_second"] is None for r in rows] == [True, True, False, False]


@pytest.mark.parametrize("argv, message", [
    (["--threads", "two"], "comma-separated integers"),
    (["--intervals-us", "0"], "--intervals-us > 0"),
    (["--transactions", "1"], "--transactions >= 2"),
])
def test_bad_arguments_are_refused_with_the_reason(argv, message):
    completed = subprocess.run([sys.executable, str(BENCH), *argv], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2 and message in completed.stderr


def test_an_unreachable_database_is_one_line_and_exit_status_2():
    completed = subprocess.run([sys.executable, str(BENCH), "--database-url", "postgres://nobody@127.0.0.1:1/x"],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2 and completed.stderr.startswith("switch_interval: cannot connect")
