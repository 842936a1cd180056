#!/usr/bin/env bash
# The whole test suite, in two passes:
#   1. the embedded default: SQLite, in-memory channel layer, eager Celery (no services needed);
#   2. the same database, channel-layer and Celery tests against real PostgreSQL and Redis, with a
#      real Celery worker. Runs when both services answer; REQUIRE_SERVICES=1 (CI) makes their
#      absence a failure instead of a skip.
# Extra arguments go to pytest in both passes (e.g. ./scripts/test.sh -x -k tangram).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/respect}
TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}

echo "== pass 1/2: embedded default (SQLite, in-memory channel layer, eager Celery)"
env -u DATABASE_URL -u REDIS_URL "$PY" -m pytest "$@"

services_up() {
  DATABASE_URL="$TEST_DATABASE_URL" REDIS_URL="$TEST_REDIS_URL" "$PY" - <<'PY'
import os, sys
import psycopg, redis
try:
    url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    psycopg.connect(url, connect_timeout=3).close()
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()
except Exception as exc:
    print(f"services unreachable: {exc}", file=sys.stderr)
    sys.exit(1)
PY
}

if services_up; then
  echo "== pass 2/2: PostgreSQL ($TEST_DATABASE_URL), Redis ($TEST_REDIS_URL), real Celery worker"
  # Pure domain modules and browser pages do not depend on the services: pass 1 covered them.
  DATABASE_URL="$TEST_DATABASE_URL" REDIS_URL="$TEST_REDIS_URL" \
    "$PY" -m pytest --ignore=tests/games/domain --ignore=tests/browser "$@"
elif [ "${REQUIRE_SERVICES:-0}" = "1" ]; then
  echo "PostgreSQL/Redis are required (REQUIRE_SERVICES=1) but unreachable" >&2
  exit 1
else
  echo "== pass 2/2 skipped: PostgreSQL/Redis not reachable (set TEST_DATABASE_URL / TEST_REDIS_URL)"
fi
