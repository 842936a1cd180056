"""Live games end to end on the real services: a Daphne server in its own process, real websockets,
the Redis channel layer, and a real Celery worker answering bot turns from the ``inference`` queue.

Run by the second pass of ``make test`` (DATABASE_URL / REDIS_URL set); skipped otherwise.
"""
import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from games.models import Interaction, Turn
from games.services import journey
from tests.factories import ParticipantFactory
from tests.games.play_support import distractors_of, install_library, start, targets_of

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
WAIT = 20.0  # generous: a cold worker may take a few seconds for its first task


# --- a minimal websocket client (RFC 6455: masked client frames, text/close/ping) --------------------------


class Socket:
    GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.frames: list[dict] = []
        # Frames are read as they arrive, not when the test asks: a server that gives up waiting for the
        # close reply aborts the connection (a TCP reset), and a reset makes the stream drop whatever it
        # had received but not yet handed out.
        self.inbox: asyncio.Queue[dict] = asyncio.Queue()
        self.pump = asyncio.get_running_loop().create_task(self._read_all())

    @classmethod
    async def open(cls, port: int, path: str, *, cookie: str = "", origin: str = ""):
        """The socket, or the HTTP status line when the server refused the upgrade. ``origin``: the
        page's (by default the site's own, as a browser on the site sends it)."""
        origin = origin or f"http://127.0.0.1:{port}"
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16))
        lines = [
            f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key.decode()}", "Sec-WebSocket-Version: 13", f"Origin: {origin}",
        ]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)).decode("latin-1")
        status = head.split("\r\n", 1)[0]
        if " 101 " not in status:
            writer.close()
            return status
        accept = base64.b64encode(hashlib.sha1(key + cls.GUID).digest()).decode()
        headers = dict(line.split(": ", 1) for line in head.strip().split("\r\n")[1:])
        assert {k.lower(): v for k, v in headers.items()}["sec-websocket-accept"] == accept
        return cls(reader, writer)

    def _write(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x80 | opcode])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    async def send(self, **frame) -> None:
        self._write(0x1, json.dumps(frame).encode())
        await self.writer.drain()

    async def _frame(self) -> tuple[int, bytes]:
        first, second = await self.reader.readexactly(2)
        n = second & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        mask = await self.reader.readexactly(4) if second & 0x80 else b""
        payload = await self.reader.readexactly(n)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return first, payload

    async def _read_all(self) -> None:
        """Every message into the inbox: JSON frames, then {"closed": code} or {"lost": reason}."""
        parts = []
        try:
            while True:
                first, payload = await self._frame()
                opcode = first & 0x0F
                if opcode == 0x9:  # ping
                    self._write(0xA, payload)
                elif opcode == 0x8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    self.inbox.put_nowait({"closed": code})
                    return
                elif opcode in (0x1, 0x0):
                    parts.append(payload)
                    if first & 0x80:
                        self.inbox.put_nowait(json.loads(b"".join(parts)))
                        parts = []
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.inbox.put_nowait({"lost": repr(exc)})

    async def recv(self, timeout: float = WAIT) -> dict:
        """The next message: a JSON frame, or {"closed": code} when the server closes."""
        message = await asyncio.wait_for(self.inbox.get(), timeout)
        self.frames.append(message)
        return message

    async def state(self, predicate=lambda s: True, timeout: float = WAIT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            message = await self.recv(timeout=max(0.01, deadline - time.monotonic()))
            assert "closed" not in message and "lost" not in message, message
            if message.get("type") == "state" and predicate(message["state"]):
                return message["state"]

    async def close(self) -> None:
        try:
            self._write(0x8, struct.pack("!H", 1000))
            await self.writer.drain()
        except ConnectionError:
            pass
        self.pump.cancel()
        self.writer.close()


# --- the servers -----------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _service_env() -> dict:
    """The environment of this test run, pointed at the test database (not the real one)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db.get("PASSWORD") else "")
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        BOT_DISPATCH="celery",
        GAME_CLOCK_IN_PROCESS="0",
        DJANGO_SETTINGS_MODULE="respect_site.settings",
        PYTHONUNBUFFERED="1",
    )
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    return env


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def live(django_db_setup, tmp_path_factory):
    """A Daphne server and a Celery ``inference`` worker, both on the test database."""
    assert connection.settings_dict["NAME"].startswith("test_")
    logs = tmp_path_factory.mktemp("live")
    env = _service_env()
    port = _free_port()
    worker_name = f"live-{os.getpid()}@pytest"
    server_log = open(logs / "daphne.log", "w+")
    worker_log = open(logs / "worker.log", "w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "respect_site.asgi:application"],
        cwd=settings.BASE_DIR, env=env, stdout=server_log, stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "respect_site", "worker", "-Q", "inference", "--pool", "solo",
         "--purge", "--loglevel", "WARNING", "-n", worker_name],
        cwd=settings.BASE_DIR, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
    )

    def logs_text():
        return "".join(f"\n--- {f.name}\n" + open(f.name).read()[-4000:] for f in (server_log, worker_log))

    try:
        from respect_site.celery import app

        deadline = time.monotonic() + 60
        server_up = worker_up = False
        while not (server_up and worker_up):
            assert time.monotonic() < deadline, "the live servers did not start" + logs_text()
            assert server.poll() is None and worker.poll() is None, "a live server died" + logs_text()
            if not server_up:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    server_up = True
                except OSError:
                    pass
            if not worker_up:
                worker_up = bool(app.control.ping(destination=[worker_name], timeout=0.5))
            time.sleep(0.1)
        yield {"port": port, "logs": logs_text}
    finally:
        _stop(server)
        _stop(worker)
        server_log.close()
        worker_log.close()


@pytest.fixture
def library(transactional_db):
    install_library()


def cookie_for(participant_id) -> str:
    """The session cookie of a browser that entered as the participant (and holds them)."""
    store = SessionStore()
    store["participant_id"] = participant_id
    store["browser_token"] = journey.bind_browser(participant_id)
    store.create()
    return f"sessionid={store.session_key}"


def run(coroutine):
    return asyncio.run(coroutine)


# --- the games ---------------------------------------------------------------------------------------------------


def test_a_game_against_the_oracle_bot_on_a_real_worker(live, library):
    assert connection.vendor == "postgresql" and settings.BOT_DISPATCH == "celery"
    game = start("oracle", settings={"timing": {"bot_min_delay_seconds": 0.2}})
    targets = targets_of(game)
    cookie = cookie_for(game.speaker_id)

    async def play():
        speaker = await Socket.open(live["port"], f"/ws/play/{game.pk}/", cookie=cookie)
        assert isinstance(speaker, Socket), speaker
        state = await speaker.state()
        assert (state["role"], state["turn"], state["can_send"], state["targets"]) == ("speaker", 0, True, targets)
        sent = time.monotonic()
        await speaker.send(type="utterance", turn=0, text="the three with sharp corners")
        waiting = await speaker.state(lambda s: s["phase"] == "listener")
        assert waiting["chat"] == [{"turn": 0, "text": "the three with sharp corners"}]
        final = await speaker.state(lambda s: s["outcome"] is not None)
        answered_after = time.monotonic() - sent
        await speaker.close()
        return final, answered_after

    final, answered_after = run(play())
    assert final["outcome"]["reason"] == "success", live["logs"]()
    assert final["selection"] == targets and final["feedback"] == {"correct": targets, "wrong": []}
    assert answered_after >= 0.2  # the minimum display delay held on the worker too
    turn = Turn.objects.get(interaction=game)
    assert (turn.action_source, turn.action_probability, turn.selected) == ("baseline", 1.0, targets)
    assert turn.model_latency_seconds is not None and turn.listener_seconds >= 0.2
    assert Interaction.objects.get(pk=game.pk).end_reason == "success"


def test_a_random_bot_answers_turn_after_turn_on_a_real_worker(live, library):
    game = start("random")
    cookie = cookie_for(game.speaker_id)

    async def play():
        speaker = await Socket.open(live["port"], f"/ws/play/{game.pk}/", cookie=cookie)
        await speaker.state()
        for k in range(3):
            await speaker.send(type="utterance", turn=k, text=f"try number {k}")
            state = await speaker.state(lambda s: s["turn"] == k + 1 or s["outcome"] is not None)
            if state["outcome"] is not None:
                break
        await speaker.close()
        return k + 1

    played = run(play())
    turns = list(Turn.objects.filter(interaction=game).order_by("index"))
    assert len(turns) == played, live["logs"]()
    for turn in turns:
        toggled = len(turn.selected) + len(turn.deselected)
        assert turn.action_source == "baseline" and toggled in (1, 2)
        assert 0 < turn.action_probability < 1 and turn.model_latency_seconds is not None


def test_a_human_human_turn_across_two_real_sockets(live, library):
    game = start("human")
    targets, wrong = targets_of(game), distractors_of(game)[0]
    speaker_cookie, listener_cookie = cookie_for(game.speaker_id), cookie_for(game.listener_id)
    stranger_cookie = cookie_for(ParticipantFactory().pk)
    port, path = live["port"], f"/ws/play/{game.pk}/"

    async def play():
        refused = await Socket.open(port, path, cookie=stranger_cookie)  # accepted, then closed with the code
        assert not isinstance(refused, str), refused
        assert await refused.recv() == {"closed": 4403}
        await refused.close()
        foreign = await Socket.open(port, path, cookie=speaker_cookie, origin="https://evil.example")
        assert isinstance(foreign, str) and " 403 " in foreign, foreign
        speaker = await Socket.open(port, path, cookie=speaker_cookie)
        listener = await Socket.open(port, path, cookie=listener_cookie)
        await speaker.state()
        await listener.state()
        await speaker.send(type="utterance", turn=0, text="the odd one out")
        await listener.state(lambda s: s["phase"] == "listener")
        await listener.send(type="toggle", turn=0, image=wrong, selected=True)
        await listener.state(lambda s: s["selection"] == [wrong])
        await listener.send(type="submit", turn=0)
        seen = await speaker.state(lambda s: s["turn"] == 1)
        await listener.state(lambda s: s["turn"] == 1)
        # A second tab of the listener takes over the first.
        second = await Socket.open(port, path, cookie=listener_cookie)
        await second.state()
        assert await listener.recv() == {"type": "replaced"}
        assert await listener.recv() == {"closed": 4409}
        for socket_ in (speaker, listener, second):
            await socket_.close()
        return seen, listener.frames + second.frames

    seen, listener_frames = run(play())
    assert seen["selection"] == [wrong] and seen["feedback"] == {"correct": [], "wrong": [wrong]}
    assert seen["targets"] == targets
    for frame in listener_frames:
        state = frame.get("state", {})
        assert "targets" not in state and "feedback" not in state
    assert Turn.objects.get(interaction=game).action_source == "human"
