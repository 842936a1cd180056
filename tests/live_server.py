"""A real ASGI server (Daphne, in a forked process) for tests that need pages and websockets.

pytest-django's ``live_server`` is a WSGI server without websockets, so browser and remote-client
tests run Daphne as ``channels.testing.ChannelsLiveServerTestCase`` does.
"""
import atexit
import os
import shutil
import tempfile
from functools import partial

import pytest
from django.conf import settings


def use_a_file_test_database() -> None:
    """The server process must see the test database, and an in-memory SQLite database lives in
    one process only. Call it when a module is collected, before the test database exists, so a
    session that includes the module uses a (temporary) SQLite file; PostgreSQL is unaffected."""
    database = settings.DATABASES["default"]
    if not database["ENGINE"].endswith("sqlite3"):
        return
    test = database.setdefault("TEST", {})
    if not test.get("NAME"):
        folder = tempfile.mkdtemp(prefix="respect-live-db-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        test["NAME"] = os.path.join(folder, "test.sqlite3")


def _use_database(name: str) -> None:
    """In the server process: use the test database by its final name. (channels' own
    ``set_database_connection`` prefixes ``test_`` again, which breaks on PostgreSQL, where the
    forked process already carries the test name.)"""
    from django.db import connections

    settings.DATABASES["default"]["NAME"] = name
    connections["default"].settings_dict["NAME"] = name


def _set_up_server(name: str) -> None:
    """In the server process, before it runs: the test database, and the game clock hooked to start
    with the reactor, as ``respect_site.asgi`` does in a real Daphne process (here the application
    module was imported before the fork, on the parent's reactor)."""
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import SyncToAsync

    from games.clock import start_with_daphne

    from training import dispatch

    # The fork copied the parent's thread pools (thread-sensitive sync_to_async calls, in-process bot
    # turns) but not their threads: work handed to them would wait forever once earlier tests in the
    # session have used them. Fresh ones start their own threads.
    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    dispatch._executor = None
    _use_database(name)
    start_with_daphne()


def daphne_server(django_db_blocker, **overrides):
    """Generator for a module fixture: Daphne serving respect_site.asgi; yields its base URL.
    ``overrides``: settings of the server process (by default, the tests click faster than any
    person could, and no heartbeat is written: see ``games.services.uptime``)."""
    from channels.testing.live import make_application
    from daphne.testing import DaphneProcess
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.db import connection
    from django.test import override_settings

    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.fail("the test database is in memory: the server process cannot see it")
    process = DaphneProcess(
        "127.0.0.1", partial(make_application, static_wrapper=ASGIStaticFilesHandler),
        setup=partial(_set_up_server, connection.settings_dict["NAME"]),
    )
    # The child gets a copy of this process's settings and pytest-django's database block at
    # fork time: fork while unblocked, and let the tests click faster than any person could.
    overrides = {"GAME_FRAME_RATE_LIMIT": 100, "GAME_HEARTBEAT": False, **overrides}
    with django_db_blocker.unblock(), override_settings(**overrides):
        process.start()
    if not process.ready.wait(timeout=30):
        process.terminate()
        raise RuntimeError("Daphne did not start")
    yield f"http://127.0.0.1:{process.port.value}"
    process.terminate()
    process.join(10)
