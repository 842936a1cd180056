"""The game websocket (games.consumers) through the real ASGI application: session cookie, origin
check, routing, the channel layer, and the engine behind it."""
import asyncio
import json
import time
import types
from datetime import timedelta

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore

from games import consumers
from games.notify import group_name
from games.services import journey, play
from games.models import Interaction, Participant, Turn
from respect_site.asgi import application
from tests.games.play_support import (
    distractors_of,
    listener_first_image,
    person,
    start,
    targets_of,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ORIGIN = (b"origin", b"http://127.0.0.1")
HOST = (b"host", b"127.0.0.1")  # the page's origin is the site's own: scheme, host and port
PRIVATE_KEYS = {"targets", "feedback", "correct", "wrong", "is_target"}
WAIT = 5.0  # seconds to wait for an expected frame before failing


def private_keys(value) -> set[str]:
    """Every key anywhere in a frame that only the speaker may see."""
    found = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PRIVATE_KEYS and item not in (None, [], {}):
                found.add(key)
            found |= private_keys(item)
    elif isinstance(value, list):
        for item in value:
            found |= private_keys(item)
    return found


class Player:
    """One browser tab: a communicator plus every frame it received."""

    def __init__(self, communicator: WebsocketCommunicator, listener: bool):
        self.comm = communicator
        self.listener = listener
        self.frames: list[dict] = []
        self.closed = False

    async def recv(self, timeout=WAIT) -> dict:
        frame = await self.comm.receive_json_from(timeout=timeout)
        self.frames.append(frame)
        if self.listener:  # a listener never sees targets or correctness: checked on every frame
            assert not private_keys(frame), frame
        return frame

    async def until(self, predicate, timeout=WAIT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no matching frame within {timeout} s; got {self.frames[-5:]}"
            try:
                frame = await self.recv(timeout=remaining)
            except TimeoutError:
                raise AssertionError(f"no matching frame within {timeout} s; got {self.frames[-5:]}") from None
            if predicate(frame):
                return frame

    async def state(self, predicate=lambda s: True, timeout=WAIT) -> dict:
        frame = await self.until(lambda f: f["type"] == "state" and predicate(f["state"]), timeout)
        return frame["state"]

    async def error(self, timeout=WAIT) -> dict:
        return await self.until(lambda f: f["type"] == "error", timeout)

    async def send(self, **frame):
        await self.comm.send_json_to(frame)

    async def quiet(self, seconds=0.2) -> bool:
        return await self.comm.receive_nothing(timeout=seconds)

    async def drain(self):
        while not await self.comm.receive_nothing(timeout=0.05):
            output = await self.comm.receive_output(timeout=1)
            if output["type"] == "websocket.send":
                frame = json.loads(output["text"])
                self.frames.append(frame)
                if self.listener:
                    assert not private_keys(frame), frame

    async def close(self):
        if not self.closed:
            self.closed = True
            await self.drain()
            await self.comm.disconnect(timeout=3)


def session_for(participant_id, *, bind=True) -> str:
    """A browser session holding the participant, as the entry page makes one (``bind``: the
    participant is bound to this browser, as a fresh entry does)."""
    store = SessionStore()
    if participant_id is not None:
        store["participant_id"] = participant_id
        if bind:
            store["browser_token"] = journey.bind_browser(participant_id)
    store.create()
    return store.session_key


async def open_socket(game_id, headers):
    """Connect; (communicator, None) when accepted, (None, close code) when refused before or
    right after the handshake."""
    comm = WebsocketCommunicator(application, f"/ws/play/{game_id}/", headers=headers)
    connected, code = await comm.connect(timeout=3)
    if not connected:
        return None, code
    return comm, None


@pytest_asyncio.fixture
async def tabs():
    """Opens game sockets; closes each at the end (which also cancels its deadline timer)."""
    opened: list[Player] = []
    await get_channel_layer().flush()

    async def open_tab(game_id, participant_id, *, listener=False, expect_state=True, headers=None):
        key = await database_sync_to_async(session_for)(participant_id)
        if headers is None:
            headers = [(b"cookie", f"sessionid={key}".encode()), ORIGIN, HOST]
        comm, code = await open_socket(game_id, headers)
        if comm is None:
            return None, code
        if expect_state:
            output = await comm.receive_output(timeout=WAIT)
            if output["type"] == "websocket.close":  # accepted, then closed: refused with a code
                await comm.wait(timeout=1)
                return None, output["code"]
            player = Player(comm, listener)
            opened.append(player)
            frame = json.loads(output["text"])
            player.frames.append(frame)
            if listener:
                assert not private_keys(frame), frame
            return player, frame["state"]
        player = Player(comm, listener)
        opened.append(player)
        return player, None

    yield open_tab
    for player in opened:
        await player.close()
    for player in opened:
        if player.listener:
            assert all(not private_keys(frame) for frame in player.frames)


@pytest.fixture(autouse=True)
def _inline_bots(settings, game_library):
    settings.BOT_DISPATCH = "inline"
    settings.GAME_FRAME_RATE_LIMIT = 1000  # scripted players are faster than people; one test checks the limit


in_db = database_sync_to_async


@in_db
def new_game(kind="oracle", **kwargs):
    return start(kind, **kwargs)


@in_db
def reload(game) -> Interaction:
    return Interaction.objects.get(pk=game.pk)


@in_db
def turns_of(game) -> list[Turn]:
    return list(Turn.objects.filter(interaction_id=game.pk).order_by("index"))


@in_db
def facts(game):
    return {"targets": targets_of(game), "distractors": distractors_of(game), "first": listener_first_image(game)}


# --- whole games ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["inline", "thread"])
async def test_a_whole_game_against_the_oracle_over_websockets(tabs, settings, mode):
    settings.BOT_DISPATCH = mode
    # In thread mode the bot writes from its own thread. The display delay keeps that write clear of
    # the socket's own reads: the in-memory SQLite test database (shared cache) has table locks that
    # do not wait, unlike the file database of the embedded default (WAL, busy timeout).
    delay = 0.3 if mode == "thread" else 0.0
    game = await new_game("oracle", settings={"timing": {"bot_min_delay_seconds": delay}})
    known = await facts(game)
    speaker, state = await tabs(game.pk, game.speaker_id)
    assert (state["role"], state["partner"], state["turn"], state["phase"]) == ("speaker", "model", 0, "speaker")
    assert state["can_send"] and not state["can_click"] and state["outcome"] is None
    assert state["targets"] == known["targets"] and state["selection"] == [] and state["feedback"] is None
    assert len(state["images"]) == 10 and state["chat"] == [] and 29 < state["seconds_left"] <= 30
    sent = time.monotonic()
    await speaker.send(type="utterance", turn=0, text="  the one like a bird  ")
    final = await speaker.state(lambda s: s["outcome"] is not None)
    assert time.monotonic() - sent >= delay
    assert final["outcome"]["success"] and final["outcome"]["reason"] == "success"
    assert final["outcome"]["next_url"] == "/play/survey/"
    assert final["selection"] == known["targets"]
    assert final["feedback"] == {"correct": known["targets"], "wrong": []}
    assert final["chat"] == [{"turn": 0, "text": "the one like a bird"}] and not final["can_send"]
    game = await reload(game)
    assert (game.status, game.end_reason, game.turn_count) == ("ended", "success", 1)
    [turn] = await turns_of(game)
    assert (turn.action_source, turn.action_probability, turn.selected) == ("baseline", 1.0, known["targets"])


async def test_a_human_game_to_the_turn_limit_with_two_sockets(tabs):
    game = await new_game("human")
    known = await facts(game)
    wrong = known["distractors"][0]
    speaker, _ = await tabs(game.pk, game.speaker_id)
    listener, state = await tabs(game.pk, game.listener_id, listener=True)
    assert (state["role"], state["partner"], state["can_click"], state["can_send"]) == ("listener", "human", False, False)
    for k in range(10):
        await speaker.send(type="utterance", turn=k, text=f"message {k}")
        seen = await listener.state(lambda s: s["turn"] == k and s["phase"] == "listener")
        assert seen["chat"][-1] == {"turn": k, "text": f"message {k}"} and seen["can_click"]
        await listener.send(type="toggle", turn=k, image=wrong, selected=k % 2 == 0)
        live = await listener.state(lambda s: wrong in s["selection"] if k % 2 == 0 else wrong not in s["selection"])
        assert live["turn"] == k
        await listener.send(type="submit", turn=k)
        if k < 9:
            after = await speaker.state(lambda s: s["turn"] == k + 1)
            assert after["selection"] == ([wrong] if k % 2 == 0 else [])
            assert after["feedback"] == {"correct": [], "wrong": [wrong] if k % 2 == 0 else []}
    ended = await speaker.state(lambda s: s["outcome"] is not None)
    assert ended["outcome"]["reason"] == "turn_limit" and not ended["outcome"]["success"]
    assert len(ended["chat"]) == 10
    ended = await listener.state(lambda s: s["outcome"] is not None)
    assert ended["outcome"]["reason"] == "turn_limit"
    assert [t.index for t in await turns_of(game)] == list(range(10))
    assert len(listener.frames) >= 30  # each checked: no targets, no feedback


async def test_reconnecting_mid_turn_restores_the_whole_state(tabs):
    game = await new_game("human")
    known = await facts(game)
    speaker, _ = await tabs(game.pk, game.speaker_id)
    listener, _ = await tabs(game.pk, game.listener_id, listener=True)
    await speaker.send(type="utterance", turn=0, text="two with hats")
    await listener.state(lambda s: s["phase"] == "listener")
    picks = sorted(known["targets"][:1] + known["distractors"][:1])
    for image in picks:
        await listener.send(type="toggle", turn=0, image=image, selected=True)
    await listener.state(lambda s: s["selection"] == picks)
    await listener.close()
    await speaker.close()

    listener, state = await tabs(game.pk, game.listener_id, listener=True)
    assert (state["turn"], state["phase"], state["selection"], state["can_click"]) == (0, "listener", picks, True)
    assert state["chat"] == [{"turn": 0, "text": "two with hats"}]
    assert 0 < state["seconds_left"] <= 30
    speaker, state = await tabs(game.pk, game.speaker_id)
    assert (state["phase"], state["can_send"], state["selection"]) == ("listener", False, [])
    assert state["chat"] == [{"turn": 0, "text": "two with hats"}] and state["targets"] == known["targets"]
    await listener.send(type="submit", turn=0)
    state = await speaker.state(lambda s: s["turn"] == 1)
    assert state["selection"] == picks and state["feedback"]["wrong"] == known["distractors"][:1]


async def test_duplicate_submits_and_stale_frames_are_harmless(tabs):
    game = await new_game("human")
    known = await facts(game)
    speaker, _ = await tabs(game.pk, game.speaker_id)
    listener, _ = await tabs(game.pk, game.listener_id, listener=True)
    await speaker.send(type="utterance", turn=0, text="hello")
    await listener.state(lambda s: s["phase"] == "listener")
    await listener.send(type="toggle", turn=0, image=known["targets"][0], selected=True)
    await listener.state(lambda s: s["selection"] == known["targets"][:1])
    await listener.send(type="submit", turn=0)
    await listener.send(type="submit", turn=0)
    await speaker.state(lambda s: s["turn"] == 1)
    await listener.state(lambda s: s["turn"] == 1)
    settled = await reload(game)
    # A repeated submit, a message for a finished turn, a click for it: nothing changes.
    await listener.send(type="submit", turn=0)
    assert await listener.quiet(0.3)
    await speaker.send(type="utterance", turn=0, text="hello again")
    error = await speaker.error()
    assert error["code"] == "stale_turn"
    assert (await speaker.state())["turn"] == 1  # and the client is told where the game is
    await listener.send(type="toggle", turn=0, image=known["targets"][1], selected=True)
    assert (await listener.error())["code"] in {"stale_turn", "not_your_turn"}
    await listener.state(lambda s: s["turn"] == 1)
    after = await reload(game)
    assert (after.version, after.turn_count, after.pending_utterance) == (settled.version, 1, "")
    assert len(await turns_of(game)) == 1


async def test_malformed_frames_get_an_error_and_change_nothing(tabs):
    game = await new_game("oracle")
    speaker, _ = await tabs(game.pk, game.speaker_id)
    before = await reload(game)
    frames = [
        ("binary", None),
        ("text", "not json"),
        ("text", "[1, 2]"),
        ("text", '"utterance"'),
        ("text", "{}"),
        ("text", '{"type": 5}'),
        ("text", '{"type": "dance", "turn": 0}'),
        ("text", '{"type": "utterance", "text": "hi"}'),
        ("text", '{"type": "utterance", "turn": true, "text": "hi"}'),
        ("text", '{"type": "utterance", "turn": "0", "text": "hi"}'),
        ("text", '{"type": "utterance", "turn": 0.0, "text": "hi"}'),
        ("text", '{"type": "utterance", "turn": -1, "text": "hi"}'),
        ("text", '{"type": "utterance", "turn": 0, "text": ["hi"]}'),
        ("text", '{"type": "utterance", "turn": 0}'),
        ("text", '{"type": "toggle", "turn": 0}'),
        ("text", '{"type": "toggle", "turn": 0, "image": "x"}'),  # without "selected": a replay would flip it
        ("text", '{"type": "toggle", "turn": 0, "image": "x", "selected": "yes"}'),
        ("text", "[" * 2000 + "]" * 2000),  # deeper than the parser's recursion limit
        ("text", '{"type": "sync", "x": ' + "[" * 500 + "]" * 500 + "}"),  # parses, but nested too deeply
        ("text", json.dumps({"type": "utterance", "turn": 0, "text": "x" * 5000})),
        ("text", json.dumps({"type": "utterance", "turn": 0, "text": "x" * 301})),
        ("text", json.dumps({"type": "utterance", "turn": 0, "text": "   "})),
        ("text", json.dumps({"type": "utterance", "turn": 0, "text": "nul \u0000 inside"})),
    ]
    for kind, payload in frames:
        if kind == "binary":
            await speaker.comm.send_to(bytes_data=b'{"type": "sync"}')
        else:
            await speaker.comm.send_to(text_data=payload)
        reply = await speaker.recv()
        assert reply["type"] == "error" and reply["code"] == "invalid", (payload, reply)
        assert reply["message"]
        assert await speaker.quiet(0.02)
    after = await reload(game)
    assert (after.version, after.phase, after.pending_utterance) == (before.version, "speaker", "")
    # The socket still works.
    await speaker.send(type="sync")
    assert (await speaker.recv())["type"] == "state"


async def test_frames_beyond_the_rate_limit_are_refused(tabs, settings, monkeypatch):
    settings.GAME_FRAME_RATE_LIMIT = 3
    now = [1000.0]
    monkeypatch.setattr(consumers, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    game = await new_game("human")
    speaker, _ = await tabs(game.pk, game.speaker_id)
    for _ in range(3):
        await speaker.send(type="sync")
        assert (await speaker.recv())["type"] == "state"
    await speaker.send(type="sync")
    assert (await speaker.recv())["code"] == "rate_limited"
    await speaker.send(type="utterance", turn=0, text="too fast")
    assert await speaker.quiet(0.2)  # refused too, and not told again within the same second
    assert (await reload(game)).phase == "speaker"
    now[0] += 1.01  # a second later the budget is back
    await speaker.send(type="utterance", turn=0, text="in time")
    state = await speaker.state()
    assert state["phase"] == "listener" and state["chat"] == [{"turn": 0, "text": "in time"}]


async def outputs_until_closed(player: Player, timeout=WAIT) -> list[dict]:
    """Every frame (parsed) and finally the close event the server sent this socket."""
    seen = []
    while True:
        output = await player.comm.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            seen.append(output)
            player.closed = True
            return seen
        seen.append(json.loads(output["text"]))


async def test_a_flood_gets_one_refusal_then_the_socket_is_closed_and_the_partner_plays_on(
    tabs, settings, monkeypatch
):
    settings.GAME_FRAME_RATE_LIMIT = 3
    monkeypatch.setattr(consumers, "time", types.SimpleNamespace(monotonic=lambda: 1000.0))  # one second
    game = await new_game("human")
    speaker, _ = await tabs(game.pk, game.speaker_id)
    listener, _ = await tabs(game.pk, game.listener_id, listener=True)
    before = await reload(game)
    for _ in range(3):
        await speaker.send(type="sync")
        assert (await speaker.recv())["type"] == "state"
    for i in range(500):  # far beyond the limit: answered once, then cut off
        await speaker.comm.send_to(text_data=json.dumps({"type": "utterance", "turn": 0, "text": f"spam {i}"}))
    seen = await outputs_until_closed(speaker)
    assert seen == [
        {"type": "error", "code": "rate_limited", "message": "too many messages; slow down"},
        {"type": "websocket.close", "code": consumers.CLOSE_TOO_MANY_FRAMES},
    ]
    after = await reload(game)
    assert (after.version, after.phase, after.pending_utterance) == (before.version, "speaker", "")
    # The other player was never affected, and the speaker can come back on a new connection.
    assert await listener.quiet(0.1)
    await listener.send(type="sync")
    assert (await listener.state())["phase"] == "speaker"
    speaker, _ = await tabs(game.pk, game.speaker_id)
    await speaker.send(type="utterance", turn=0, text="sorry about that")
    assert (await listener.state(lambda s: s["phase"] == "listener"))["chat"][0]["text"] == "sorry about that"


async def test_a_connection_is_closed_once_it_has_sent_its_cap_of_frames(tabs, settings):
    settings.GAME_MAX_FRAMES_PER_CONNECTION = 5
    game = await new_game("human")
    speaker, _ = await tabs(game.pk, game.speaker_id)
    for _ in range(5):
        await speaker.send(type="sync")
        assert (await speaker.recv())["type"] == "state"
    await speaker.send(type="sync")
    assert await outputs_until_closed(speaker) == [{"type": "websocket.close", "code": consumers.CLOSE_TOO_MANY_FRAMES}]


async def test_a_replayed_toggle_changes_nothing(tabs):
    game = await new_game("human")
    known = await facts(game)
    image = known["targets"][0]
    speaker, _ = await tabs(game.pk, game.speaker_id)
    listener, _ = await tabs(game.pk, game.listener_id, listener=True)
    await speaker.send(type="utterance", turn=0, text="the first one")
    await listener.state(lambda s: s["phase"] == "listener")
    await listener.send(type="toggle", turn=0, image=image, selected=True)
    await listener.state(lambda s: s["selection"] == [image])
    selected = await reload(game)
    await listener.send(type="toggle", turn=0, image=image, selected=True)  # the network delivered it twice
    assert await listener.quiet(0.3)
    again = await reload(game)
    assert (again.live_selection, again.version) == ([image], selected.version)
    await listener.send(type="toggle", turn=0, image=image, selected=False)
    await listener.state(lambda s: s["selection"] == [])
    await listener.send(type="toggle", turn=0, image=image, selected=False)
    assert await listener.quiet(0.3)
    assert (await reload(game)).live_selection == []


async def test_strangers_are_refused(tabs):
    game = await new_game("human")
    stranger = await in_db(person)()
    player, code = await tabs(game.pk, stranger.pk)
    assert (player, code) == (None, consumers.CLOSE_FORBIDDEN)
    player, code = await tabs(game.pk, None)  # a session without a participant
    assert (player, code) == (None, consumers.CLOSE_FORBIDDEN)
    player, code = await tabs(game.pk, None, headers=[ORIGIN, HOST])  # no session at all
    assert (player, code) == (None, consumers.CLOSE_FORBIDDEN)
    player, code = await tabs(999_999, game.speaker_id)  # no such game
    assert (player, code) == (None, consumers.CLOSE_FORBIDDEN)
    key = await in_db(session_for)(game.speaker_id)
    player, _ = await tabs(game.pk, None, headers=[(b"cookie", f"sessionid={key}".encode()),
                                                   (b"origin", b"https://evil.example"), HOST])
    assert player is None  # a foreign page cannot open the player's socket
    player, _ = await tabs(game.pk, None, headers=[(b"cookie", f"sessionid={key}".encode()), HOST])
    assert player is None
    assert (await reload(game)).version == 0


async def test_a_refused_socket_is_accepted_then_closed_with_4403_so_the_browser_sees_the_code(tabs):
    # Closing before the handshake completes reaches the browser as 1006, which the page retries forever.
    game = await new_game("human")
    stranger = await in_db(person)()
    key = await in_db(session_for)(stranger.pk)
    comm, code = await open_socket(game.pk, [(b"cookie", f"sessionid={key}".encode()), ORIGIN, HOST])
    assert comm is not None and code is None  # the handshake completed ...
    assert await comm.receive_output(timeout=WAIT) == {"type": "websocket.close", "code": consumers.CLOSE_FORBIDDEN}
    await comm.wait(timeout=1)


@pytest.mark.parametrize("origin, host", [
    (b"http://127.0.0.1:9999", b"127.0.0.1:8000"),  # another port of an allowed host
    (b"http://127.0.0.1:9999", b"127.0.0.1"),
    (b"https://127.0.0.1", b"127.0.0.1"),  # another scheme (the request came over plain http)
    (b"http://127.0.0.1", b"127.0.0.1:8000"),
    (b"http://localhost:8000", b"127.0.0.1:8000"),  # another allowed host than the one requested
    (b"http://evil.example", b"evil.example"),  # a host that is not allowed at all
    (b"null", b"127.0.0.1"),
    (b"http://127.0.0.1:notaport", b"127.0.0.1"),
])
async def test_only_the_sites_own_origin_may_open_a_game_socket(tabs, origin, host):
    game = await new_game("human")
    key = await in_db(session_for)(game.speaker_id)
    player, _ = await tabs(game.pk, None, headers=[(b"cookie", f"sessionid={key}".encode()),
                                                   (b"origin", origin), (b"host", host)])
    assert player is None
    player, state = await tabs(game.pk, None, headers=[(b"cookie", f"sessionid={key}".encode()),
                                                       (b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")])
    assert player is not None and state["role"] == "speaker"  # the same port and scheme: allowed


async def test_behind_a_tls_proxy_the_origin_must_be_https(tabs, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    game = await new_game("human")
    key = await in_db(session_for)(game.speaker_id)
    cookie = (b"cookie", f"sessionid={key}".encode())
    proxied = (b"x-forwarded-proto", b"https")
    player, _ = await tabs(game.pk, None, headers=[cookie, (b"origin", b"http://127.0.0.1"), HOST, proxied])
    assert player is None
    player, state = await tabs(game.pk, None, headers=[cookie, (b"origin", b"https://127.0.0.1"), HOST, proxied])
    assert player is not None and state["role"] == "speaker"


async def test_a_session_superseded_by_a_later_entry_cannot_play(tabs):
    # The participant entered again from another browser (between games): the old browser's session
    # no longer holds them, even though it still names them.
    game = await new_game("human")
    old = await in_db(session_for)(game.speaker_id)
    await in_db(journey.bind_browser)(game.speaker_id)
    player, code = await tabs(game.pk, None, headers=[(b"cookie", f"sessionid={old}".encode()), ORIGIN, HOST])
    assert (player, code) == (None, consumers.CLOSE_FORBIDDEN)
    unbound = await in_db(session_for)(game.speaker_id, bind=False)  # names the participant, holds no token
    player, code = await tabs(game.pk, None, headers=[(b"cookie", f"sessionid={unbound}".encode()), ORIGIN, HOST])
    assert (player, code) == (None, consumers.CLOSE_FORBIDDEN)
    assert (await reload(game)).version == 0


async def test_a_second_tab_of_the_same_player_takes_over(tabs):
    game = await new_game("human")
    first, _ = await tabs(game.pk, game.speaker_id)
    listener, _ = await tabs(game.pk, game.listener_id, listener=True)
    assert await first.quiet(0.1)  # the other player's seat is another seat
    second, state = await tabs(game.pk, game.speaker_id)
    assert state["role"] == "speaker"
    assert await first.recv() == {"type": "replaced"}
    closing = await first.comm.receive_output(timeout=WAIT)
    assert closing == {"type": "websocket.close", "code": consumers.CLOSE_REPLACED}
    await first.comm.disconnect()
    first.closed = True
    await second.send(type="utterance", turn=0, text="from the new tab")
    assert (await second.state(lambda s: s["phase"] == "listener"))["chat"][0]["text"] == "from the new tab"
    await listener.state(lambda s: s["phase"] == "listener")


async def test_the_listener_never_receives_targets_or_correctness(tabs):
    game = await new_game("human")
    known = await facts(game)
    speaker, _ = await tabs(game.pk, game.speaker_id)
    listener, _ = await tabs(game.pk, game.listener_id, listener=True)
    # Play to a success so that every kind of state (speaking, choosing, feedback, end) is seen.
    await speaker.send(type="utterance", turn=0, text="all of them")
    await listener.state(lambda s: s["phase"] == "listener")
    for image in known["targets"]:
        await listener.send(type="toggle", turn=0, image=image, selected=True)
        await listener.state(lambda s: image in s["selection"])
    await listener.send(type="submit", turn=0)
    end = await listener.state(lambda s: s["outcome"] is not None)
    assert end["outcome"]["reason"] == "success"
    assert "targets" not in end and "feedback" not in end
    speaker_end = await speaker.state(lambda s: s["outcome"] is not None)
    assert speaker_end["feedback"]["correct"] == known["targets"]
    await listener.send(type="sync")
    await listener.state()
    assert len(listener.frames) >= 5 and all(not private_keys(f) for f in listener.frames)


# --- deadlines through the consumer's timer ------------------------------------------------------------------

QUICK = {"timing": {"speaker_seconds": 0.3, "listener_seconds": 0.3, "idle_grace_seconds": 0.1,
                    "bot_deadline_seconds": 0.3, "bot_min_delay_seconds": 0}}


async def test_an_idle_speaker_is_ended_by_the_socket_timer(tabs):
    game = await new_game("oracle", settings=QUICK)
    speaker, _ = await tabs(game.pk, game.speaker_id)
    state = await speaker.state(lambda s: s["outcome"] is not None, timeout=4)
    assert state["outcome"]["reason"] == "speaker_idle" and not state["can_send"]
    game = await reload(game)
    assert (game.status, game.end_reason) == ("ended", "speaker_idle")


async def test_an_idle_listener_is_ended_and_a_clicking_one_auto_submitted(tabs):
    game = await new_game("human", settings=QUICK)
    known = await facts(game)
    speaker, _ = await tabs(game.pk, game.speaker_id)
    listener, _ = await tabs(game.pk, game.listener_id, listener=True)
    await speaker.send(type="utterance", turn=0, text="quick")
    await listener.state(lambda s: s["phase"] == "listener")
    await listener.send(type="toggle", turn=0, image=known["targets"][0], selected=True)
    state = await speaker.state(lambda s: s["turn"] == 1, timeout=4)  # auto-submitted at the deadline
    assert state["selection"] == known["targets"][:1]
    [turn] = await turns_of(game)
    assert (turn.action_source, turn.selected) == ("human", known["targets"][:1])
    await speaker.send(type="utterance", turn=1, text="again")
    end = await listener.state(lambda s: s["outcome"] is not None, timeout=4)  # no click this time
    assert end["outcome"]["reason"] == "listener_idle"
    assert (await reload(game)).end_reason == "listener_idle"


async def test_a_silent_bot_gets_a_retry_then_the_fallback_through_the_socket_timer(tabs, held_bots):
    asked = held_bots
    game = await new_game("oracle", settings=QUICK)
    known = await facts(game)
    speaker, _ = await tabs(game.pk, game.speaker_id)
    await speaker.send(type="utterance", turn=0, text="anyone there?")
    state = await speaker.state(lambda s: s["turn"] == 1, timeout=4)
    assert state["selection"] == [known["first"]] and state["phase"] == "speaker"
    assert asked == [(game.pk, 0, 1), (game.pk, 0, 2)]
    [turn] = await turns_of(game)
    assert (turn.action_source, turn.action_probability) == ("timeout", -1.0)


@in_db
def hold_targets(game, delay):
    """What an inference worker does when its model answered before the display time: store the
    answer with that time (here with no timer of its own: only the socket can show it)."""
    game = Interaction.objects.get(pk=game.pk)
    return play.hold_listener_action(game.pk, 0, play.ListenerAction(
        select=frozenset(targets_of(game)), deselect=frozenset(), source="baseline", probability=1.0,
    ), show_at=game.phase_started_at + timedelta(seconds=delay))


async def test_the_speakers_socket_shows_a_held_bot_answer_at_its_display_time_and_once(tabs, held_bots):
    delay = 0.6
    game = await new_game("oracle", settings={"timing": {"bot_min_delay_seconds": delay}})
    speaker, state = await tabs(game.pk, game.speaker_id)
    assert state["bot_answer_in"] is None  # the speaker's phase
    await speaker.send(type="utterance", turn=0, text="the one like a bird")
    waiting = await speaker.state(lambda s: s["phase"] == "listener")
    assert 0 < waiting["bot_answer_in"] <= delay
    assert await hold_targets(game, delay)
    # Nothing else would show it within the wait: no worker timer, no game clock, the bot's deadline 20 s.
    final = await speaker.state(lambda s: s["outcome"] is not None)
    assert final["outcome"]["reason"] == "success" and final["bot_answer_in"] is None
    [turn] = await turns_of(game)
    assert turn.listener_seconds >= delay and turn.action_source == "baseline"  # not before its display time
    await speaker.drain()
    assert await speaker.quiet(0.3)
    versions = [frame["state"]["version"] for frame in speaker.frames if frame["type"] == "state"]
    assert versions.count(final["version"]) == 1  # the change's notification did not send it again
    assert held_bots == [(game.pk, 0, 1)]  # and no retry was asked for


async def test_a_socket_with_no_answer_held_at_the_display_time_waits_for_the_model(tabs, held_bots):
    delay = 0.2
    game = await new_game("oracle", settings={"timing": {"bot_min_delay_seconds": delay}})
    speaker, _ = await tabs(game.pk, game.speaker_id)
    await speaker.send(type="utterance", turn=0, text="the one like a bird")
    await speaker.state(lambda s: s["phase"] == "listener")
    assert await speaker.quiet(delay + 0.3)  # the display time passed with the model still thinking
    assert (await reload(game)).phase == "listener"
    known = await facts(game)
    await in_db(play.apply_listener_action)(game.pk, 0, play.ListenerAction(
        select=frozenset(known["targets"]), deselect=frozenset(), source="baseline", probability=1.0))
    final = await speaker.state(lambda s: s["outcome"] is not None)  # the slow answer is shown when it comes
    assert final["outcome"]["reason"] == "success"


async def test_a_game_over_socket_arms_no_timer_and_refuses_moves(tabs):
    game = await new_game("oracle", settings=QUICK)
    await in_db(lambda: Interaction.objects.filter(pk=game.pk).update(
        status="ended", phase="ended", end_reason="cancelled", ended_at=game.started_at, phase_deadline=None))()
    speaker, state = await tabs(game.pk, game.speaker_id)
    assert state["outcome"]["reason"] == "cancelled" and state["seconds_left"] is None
    await speaker.send(type="utterance", turn=0, text="late")
    assert (await speaker.error())["code"] == "game_over"
    assert (await speaker.state())["outcome"]["reason"] == "cancelled"
    assert await speaker.quiet(0.5)  # past the old deadline: no timer fired, nothing moved
    assert (await reload(game)).end_reason == "cancelled"
    assert (await in_db(lambda: Participant.objects.get(pk=game.speaker_id).stage)()) == "game"


async def test_a_state_for_a_socket_the_browser_has_just_closed_is_dropped_and_the_consumer_ends_cleanly():
    """A state on its way while the browser closes: the server (uvicorn) refuses the send before the
    consumer has handled the disconnect. The consumer must drop it, not crash with a traceback."""
    await get_channel_layer().flush()
    game = await new_game("oracle")
    key = await database_sync_to_async(session_for)(game.speaker_id)
    scope = WebsocketCommunicator(
        application, f"/ws/play/{game.pk}/", headers=[(b"cookie", f"sessionid={key}".encode()), ORIGIN, HOST]
    ).scope
    incoming, sent = asyncio.Queue(), []
    browser_gone = asyncio.Event()

    async def server_send(message):
        if browser_gone.is_set() and message["type"] == "websocket.send":
            raise RuntimeError("Unexpected ASGI message 'websocket.send', after sending 'websocket.close'.")
        sent.append(message)

    app = asyncio.ensure_future(application(scope, incoming.get, server_send))
    await incoming.put({"type": "websocket.connect"})
    for _ in range(100):
        if any(message["type"] == "websocket.send" for message in sent):
            break
        await asyncio.sleep(0.05)
    assert [message["type"] for message in sent] == ["websocket.accept", "websocket.send"]
    browser_gone.set()
    await get_channel_layer().group_send(group_name(game.pk), {"type": "game.changed"})
    await asyncio.sleep(0.5)  # the state is read and its send refused
    await incoming.put({"type": "websocket.disconnect", "code": 1001})
    await asyncio.wait_for(app, timeout=WAIT)  # ends normally: no exception escapes the consumer
    assert [message["type"] for message in sent] == ["websocket.accept", "websocket.send"]
