"""Simulated participants that use a running site like browsers do (no Django imports).

Each one opens the entry link (a made-up MTurk worker id), consents, plays the practice game as
the speaker, enters the lobby, polls it until matched, plays its game over the site's websocket
(as the speaker, or as the listener when paired with another simulated participant in a
human-human deployment), and fills in the exit survey. It sees only what a browser sees: the pages,
the ``state`` frames of ``/ws/play/<id>/`` and the tangram SVGs (read back into figures with the
KILOGRAM SVG reader), so it exercises the whole stack; the load benchmark uses it.

HTTP goes through ``urllib`` with a cookie jar (session and CSRF cookies, as a browser keeps them);
the websocket through the ``websockets`` client.
"""
from __future__ import annotations

import asyncio
import http.cookiejar
import json
import queue
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from games.domain import rules
from games.domain.kilogram_svg import KilogramFormatError, parse_kilogram_svg
from games.simulation.agents.annotations import descriptions_for
from games.simulation.agents.human_listener import SimulatedHumanListener
from games.simulation.agents.speaker import SpeakerContext, SpeakerStyle
from games.simulation.drivers.in_memory import human_listener_for
from games.simulation.episode import Episode
from games.domain.seeds import derive_seed

HTTP_TIMEOUT = 30.0
GAME_TIMEOUT = 900.0  # a whole game: ten turns of at most a few minutes each
LOBBY_POLL_SECONDS = 0.5


class RemoteError(RuntimeError):
    """The site could not be used as expected; the message says where."""


@dataclass(frozen=True)
class RemoteResult:
    worker: str
    role: str | None = None  # "speaker" or "listener" in the study game; None without a game
    interaction_id: int | None = None
    success: bool = False
    turns: int = 0
    error: str | None = None


class Browser:
    """The HTTP side of one participant: a cookie jar and form posts with the CSRF token."""

    def __init__(self, base_url: str):
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise RemoteError(f"not an http(s) URL: {base_url!r}")
        self.base = f"{parsed.scheme}://{parsed.netloc}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def _request(self, path: str, data: dict | None = None) -> tuple[str, bytes]:
        url = urllib.parse.urljoin(self.base, path)
        headers = {"User-Agent": "respect-simulated-participant"}
        body = None
        if data is not None:
            token = self.cookie("csrftoken")
            body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token or ""}).encode()
            headers.update({"Referer": url, "X-CSRFToken": token or "",
                            "Content-Type": "application/x-www-form-urlencoded"})
        request = urllib.request.Request(url, data=body, headers=headers, method="POST" if data is not None else "GET")
        try:
            with self.opener.open(request, timeout=HTTP_TIMEOUT) as response:
                return response.geturl(), response.read()
        except urllib.error.HTTPError as exc:
            page = re.sub(r"<[^>]+>", " ", exc.read(4000).decode("utf-8", "replace"))
            reason = " ".join(page.split())[-160:]
            raise RemoteError(f"{request.method} {path}: HTTP {exc.code} {reason}".rstrip()) from None
        except (urllib.error.URLError, OSError) as exc:
            raise RemoteError(f"{request.method} {path}: {getattr(exc, 'reason', exc)}") from None

    def get(self, path: str) -> tuple[str, bytes]:
        return self._request(path)

    def post(self, path: str, data: dict | None = None) -> tuple[str, bytes]:
        return self._request(path, data or {})

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def websocket_url(self, interaction_id: int) -> str:
        scheme = "wss" if self.base.startswith("https") else "ws"
        return f"{scheme}://{self.base.split('://', 1)[1]}/ws/play/{interaction_id}/"


def _path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


_GAME_PATH = re.compile(r"/play/game/(\d+)/")


class RemoteParticipant:
    """One simulated person going through the site."""

    def __init__(self, base_url: str, worker: str, *, seed: int, style: SpeakerStyle | None = None,
                 listener_accuracy: float = 0.85, descriptions: Mapping[str, Sequence[str]] | None = None,
                 pace_seconds: float = 0.02):
        self.browser = Browser(base_url)
        self.worker = worker
        self.seed = seed
        self.style = style or SpeakerStyle()
        self.accuracy = listener_accuracy
        self.descriptions = descriptions
        self.pace = pace_seconds

    async def _http(self, method: Callable, *args) -> tuple[str, bytes]:
        return await asyncio.to_thread(method, *args)

    async def run(self) -> RemoteResult:
        try:
            return await asyncio.wait_for(self._journey(), GAME_TIMEOUT * 2)
        except (RemoteError, KilogramFormatError, rules.RuleError, OSError, ValueError) as exc:
            return RemoteResult(self.worker, error=str(exc) or type(exc).__name__)
        except asyncio.TimeoutError:
            return RemoteResult(self.worker, error="timed out")
        except Exception as exc:  # websockets' connection errors and the like: report, never crash the run
            return RemoteResult(self.worker, error=f"{type(exc).__name__}: {exc}")

    async def _journey(self) -> RemoteResult:
        query = urllib.parse.urlencode({"workerId": self.worker, "assignmentId": f"A-{self.worker}", "hitId": "SIM"})
        url, body = await self._http(self.browser.get, f"/play/?{query}")
        in_lobby = False  # a game page before the lobby is the practice game
        for _ in range(6):
            path = _path(url)
            if path.endswith("/consent/"):
                url, body = await self._http(self.browser.post, path)
            elif path.endswith("/instructions/"):
                if b"lobby/enter/" in body:
                    url, body = await self._http(self.browser.post, "/play/lobby/enter/")
                else:
                    url, body = await self._http(self.browser.post, "/play/practice/")
            elif _GAME_PATH.search(path):
                interaction_id = int(_GAME_PATH.search(path).group(1))
                role, success, turns = await self._play(interaction_id)
                if in_lobby:
                    return await self._finish(RemoteResult(self.worker, role, interaction_id, success, turns))
                url, body = await self._http(self.browser.get, "/play/instructions/")
            elif path.endswith("/lobby/"):
                in_lobby = True
                interaction_id = await self._wait_in_lobby()
                if interaction_id is None:
                    return RemoteResult(self.worker)
                role, success, turns = await self._play(interaction_id)
                return await self._finish(RemoteResult(self.worker, role, interaction_id, success, turns))
            else:
                raise RemoteError(f"unexpected page {path}")
        raise RemoteError(f"the journey did not reach a game (stuck at {_path(url)})")

    async def _wait_in_lobby(self) -> int | None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + GAME_TIMEOUT
        while loop.time() < give_up:
            _, body = await self._http(self.browser.get, "/play/lobby/status/")
            status = json.loads(body)
            if status.get("state") == "matched":
                match = _GAME_PATH.search(status.get("next_url") or "")
                if match is None:
                    raise RemoteError("the lobby matched without a game link")
                return int(match.group(1))
            if status.get("state") != "waiting":
                return None
            await asyncio.sleep(LOBBY_POLL_SECONDS)
        raise RemoteError("still waiting in the lobby")

    async def _finish(self, result: RemoteResult) -> RemoteResult:
        url, body = await self._http(self.browser.get, "/play/survey/")
        if _path(url).endswith("/survey/"):
            items = sorted(set(re.findall(rb'type="radio" name="(\w+)"', body)))
            answers = {item.decode(): "5" for item in items}
            await self._http(self.browser.post, "/play/survey/", {**answers, "comments": ""})
        return result

    async def _figures(self, images: Sequence[dict]) -> dict:
        figures = {}
        for image in images:
            _, svg = await self._http(self.browser.get, image["url"])
            figures[image["id"]] = parse_kilogram_svg(svg)
        return figures

    async def _play(self, interaction_id: int) -> tuple[str, bool, int]:
        from websockets.asyncio.client import connect

        url = self.browser.websocket_url(interaction_id)
        headers = {"Cookie": self.browser.cookie_header()}
        game_seed = derive_seed(self.seed, self.worker, interaction_id)
        episode: Episode | None = None  # the speaker's side: its game, stepped with what the frames show
        listener: SimulatedHumanListener | None = None  # the listener's side (it never sees the targets)
        heard: list[rules.PastTurn] = []  # the listener's memory of the game
        done_turns: set[int] = set()
        async with connect(url, additional_headers=headers, origin=self.browser.base, open_timeout=HTTP_TIMEOUT) as ws:
            async with asyncio.timeout(GAME_TIMEOUT):
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame.get("type") == "replaced":
                        raise RemoteError("another connection took the seat over")
                    if frame.get("type") != "state":
                        continue
                    state = frame["state"]
                    role = state["role"]
                    turn = state["turn"]
                    if episode is not None:
                        _follow(episode, state)
                    if state["outcome"] is not None:
                        return role, bool(state["outcome"]["success"]), int(turn)
                    if episode is None and listener is None:
                        figures = await self._figures(state["images"])
                        order = tuple(image["id"] for image in state["images"])
                        descriptions = descriptions_for(self.descriptions, order)
                        if role == "speaker":
                            if turn:
                                raise RemoteError(f"joined game {interaction_id} as the speaker after its first turn")
                            context = SpeakerContext(order, frozenset(state["targets"]), figures, descriptions)
                            episode = Episode.start(context, self.style, seed=derive_seed(game_seed, "speaker"))
                        else:
                            listener = human_listener_for(order, figures, game_seed, listener_order=order,
                                                          accuracy=self.accuracy, descriptions=descriptions)
                    if turn in done_turns:
                        continue
                    if episode is not None and state["can_send"]:
                        done_turns.add(turn)
                        await asyncio.sleep(self.pace)
                        await ws.send(json.dumps({"type": "utterance", "turn": turn, "text": episode.utterance}))
                    elif listener is not None and state["can_click"]:
                        said = [c["text"] for c in state["chat"] if c["turn"] == turn]
                        if not said:
                            continue
                        done_turns.add(turn)
                        before = frozenset(state["selection"])
                        action = listener.act(said[-1], before, heard)
                        heard.append(rules.PastTurn(before, said[-1], action.select, action.deselect))
                        for image in sorted(action.toggled):
                            await asyncio.sleep(self.pace)
                            await ws.send(json.dumps({"type": "toggle", "turn": turn, "image": image,
                                                      "selected": image in action.select}))
                        await asyncio.sleep(self.pace)
                        await ws.send(json.dumps({"type": "submit", "turn": turn}))
        raise RemoteError(f"the websocket of game {interaction_id} closed before the game ended")


def _follow(episode: Episode, state: dict) -> None:
    """Step the speaker's episode with the turn the site reports played (the speaker is shown the
    submitted selection), and check that the site's game and the episode agree."""
    if state["turn"] == episode.state.turn + 1:
        episode.submit(rules.action_between(episode.selection, frozenset(state["selection"])))
    elif state["turn"] != episode.state.turn:
        raise RemoteError(f"the site is at turn {state['turn']}, the speaker at {episode.state.turn}")
    outcome = state["outcome"]
    if outcome is None:
        disagree = episode.over
    elif outcome.get("reason") in rules.OUTCOMES:
        disagree = not episode.over or bool(outcome["success"]) != episode.success
    else:  # ended for another reason (a player idle): no rule of the game decided it
        disagree = False
    if disagree:
        raise RemoteError(f"the site's game (turn {state['turn']}, outcome {outcome}) and the speaker's "
                          f"({episode.outcome}) disagree")


def run_remote_participants(
    base_url: str,
    *,
    count: int,
    seed: int = 0,
    concurrency: int = 1,
    style: SpeakerStyle | None = None,
    listener_accuracy: float = 0.85,
    descriptions: Mapping[str, Sequence[str]] | None = None,
    progress: Callable[[Iterable, int], Iterable] = lambda items, total: items,
    worker_prefix: str = "sim",
) -> list[RemoteResult]:
    """``count`` simulated participants, ``concurrency`` at a time, against the site at ``base_url``."""
    if count < 1:
        raise RemoteError("count must be at least 1")
    if concurrency < 1:
        raise RemoteError("concurrency must be at least 1")
    Browser(base_url)  # validates the URL before anything starts
    done: queue.Queue = queue.Queue()

    async def main() -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                person = RemoteParticipant(base_url, f"{worker_prefix}{seed}x{i}", seed=derive_seed(seed, i),
                                           style=style, listener_accuracy=listener_accuracy,
                                           descriptions=descriptions)
                done.put((i, await person.run()))

        await asyncio.gather(*(one(i) for i in range(count)))

    failure: list[BaseException] = []

    def loop_thread() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced below, in the caller's thread
            failure.append(exc)
            done.put(None)

    thread = threading.Thread(target=loop_thread, name="simulated-browsers", daemon=True)
    thread.start()

    def results():
        for _ in range(count):
            item = done.get()
            if item is None:
                return
            yield item

    collected = dict(progress(results(), count))
    thread.join()
    if failure:
        raise RemoteError(f"simulated participants failed: {failure[0]}")
    return [collected[i] for i in sorted(collected)]
