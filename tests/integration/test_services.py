"""Against the real services: PostgreSQL, the Redis channel layer, a real Celery worker.

Run by the second pass of ``make test`` (DATABASE_URL / REDIS_URL set); skipped otherwise.
"""
import asyncio
import io
import os
import subprocess
import sys
import threading
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management import call_command
from django.db import connection, connections

from games.models import Round
from games.services.lifecycle import TransitionError, transition_round

pytestmark = pytest.mark.services


@pytest.mark.django_db
def test_database_is_postgresql():
    assert connection.vendor == "postgresql"


@pytest.mark.django_db(transaction=True)
def test_concurrent_transitions_only_one_wins():
    rnd = Round.objects.create(number=42)
    barrier = threading.Barrier(4)
    results: list[str] = []

    def attempt():
        barrier.wait()
        try:
            transition_round(rnd.pk, "open")
            results.append("won")
        except TransitionError:
            results.append("lost")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost", "lost", "lost", "won"]
    assert Round.objects.get(pk=rnd.pk).status == "open"


def test_redis_channel_layer_round_trip():
    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"

    async def exchange():
        channel = await layer.new_channel()
        await layer.group_add("interaction-test", channel)
        await layer.group_send("interaction-test", {"type": "game.state", "turn": 3})
        message = await layer.receive(channel)
        await layer.group_discard("interaction-test", channel)
        return message

    assert async_to_sync(exchange)() == {"type": "game.state", "turn": 3}


def test_notifications_from_worker_threads_reach_the_game_group():
    """Bot answers are recorded on worker threads of a process with no server loop (the inference
    worker): each thread's notification must reach the game's consumers through Redis."""
    from games.notify import group_name, notify_interaction

    layer = get_channel_layer()

    async def listen():
        channel = await layer.new_channel()
        await layer.group_add(group_name(424242), channel)
        return channel

    async def collect(channel, count):
        received = [await layer.receive(channel) for _ in range(count)]
        await layer.group_discard(group_name(424242), channel)
        return received

    channel = async_to_sync(listen)()
    threads = [threading.Thread(target=notify_interaction, args=(424242,)) for _ in range(3)]
    for thread in threads:
        thread.start()
        thread.join()
    notify_interaction(424242)  # and from this (main) thread, before and after the others
    assert async_to_sync(collect)(channel, 4) == [{"type": "game.changed", "interaction": 424242}] * 4
    # The notifications' connections are their own: flushing the default layer (as tests do) still works.
    async_to_sync(layer.flush)()


FIRST_NOTIFICATIONS_AT_ONCE = """
import sys, threading
import django
django.setup()
from games.notify import notify_interaction
interaction, count = int(sys.argv[1]), int(sys.argv[2])
barrier = threading.Barrier(count)
def notify():
    barrier.wait()
    notify_interaction(interaction)
threads = [threading.Thread(target=notify) for _ in range(count)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def test_a_fresh_workers_first_notifications_sent_at_once_all_arrive():
    """A fresh inference worker's threads each record an answer and notify at the same moment (no
    channel layer, no sending loop yet in that process): every notification reaches the game's group.
    A race here once stopped the sending loop under the first notifications, and the speaker never
    saw the model's answer (the game then ended as speaker idle)."""
    from django.conf import settings

    from games.notify import group_name

    layer, interaction, count = get_channel_layer(), 434343, 8

    async def listen():
        channel = await layer.new_channel()
        await layer.group_add(group_name(interaction), channel)
        return channel

    async def collect(channel):
        try:
            return [await asyncio.wait_for(layer.receive(channel), 10) for _ in range(count)]
        finally:
            await layer.group_discard(group_name(interaction), channel)

    channel = async_to_sync(listen)()
    sender = subprocess.run([sys.executable, "-c", FIRST_NOTIFICATIONS_AT_ONCE, str(interaction), str(count)],
                            cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120)
    assert sender.returncode == 0 and "could not notify" not in sender.stderr, sender.stderr[-2000:]
    assert async_to_sync(collect)(channel) == [{"type": "game.changed", "interaction": interaction}] * count


@pytest.fixture
def celery_worker_process():
    command = [
        sys.executable, "-m", "celery", "-A", "respect_site", "worker",
        "-Q", "inference,feedback,training", "--pool", "solo", "--loglevel", "WARNING",
        "-n", f"pytest-{os.getpid()}@%h",
    ]
    worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_a_real_worker_answers_on_all_three_queues(celery_worker_process):
    deadline = time.monotonic() + 60
    last_error = None
    while time.monotonic() < deadline:
        out = io.StringIO()
        try:
            call_command("check_workers", "--timeout", "5", stdout=out, stderr=io.StringIO())
        except Exception as exc:  # worker still starting
            last_error = exc
            assert celery_worker_process.poll() is None, celery_worker_process.stdout.read()
            continue
        lines = out.getvalue().splitlines()
        assert [line.split(":")[0] for line in lines] == ["inference", "feedback", "training"]
        return
    pytest.fail(f"no worker answered within 60 s: {last_error}")
