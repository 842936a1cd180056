"""The game websocket: validates frames, calls one service each, pushes state. No game logic here.

Client frames::

    {"type": "utterance", "turn": k, "text": "..."}                 speaker
    {"type": "toggle", "turn": k, "image": "<id>", "selected": b}   human listener: the image is
                                                                    selected (true) or not (false)
                                                                    afterwards; a replay changes nothing
    {"type": "submit", "turn": k}                                   human listener
    {"type": "sync"}                                                anyone: resend the full state

Server frames: ``{"type": "state", "state": {...}}`` (the role's view, see
``games.selectors.game_state_for``), ``{"type": "error", "code": ..., "message": ...}`` and
``{"type": "replaced"}`` (another tab of the same player took over; the socket then closes).

Close codes: 4403 not a player of this game (sent after accepting, so the browser sees it), 4409
replaced by a newer tab, 4429 too many frames (over four times the rate limit within a second, or
over ``GAME_MAX_FRAMES_PER_CONNECTION`` in all).
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from games.clock import ensure_in_process_clock
from games.notify import group_name, register_server_loop
from games.selectors import game_state_for
from games.services import journey, play

log = logging.getLogger(__name__)
MAX_FRAME_CHARS = 4096
MAX_FRAME_DEPTH = 3  # frames are flat objects; a little room, never a parser's recursion limit
MOVES = {"utterance", "toggle", "submit"}
CLOSE_FORBIDDEN = 4403
CLOSE_REPLACED = 4409
CLOSE_TOO_MANY_FRAMES = 4429
FLOOD_FACTOR = 4  # a connection sending this many times the rate limit within one second is closed


def _deeper_than(value, limit: int) -> bool:
    """Whether containers nest more than ``limit`` levels (looks no deeper than that)."""
    if isinstance(value, (dict, list)):
        if limit == 0:
            return True
        return any(_deeper_than(item, limit - 1) for item in (value.values() if isinstance(value, dict) else value))
    return False


def database_call(function):
    """``function`` run off the event loop with Django's connection handling, on the process's one
    database thread or, with ``GAME_DB_ONE_THREAD`` off, on a thread pool (see settings). The web
    process's other event-loop code (frontend.tangram_images) reads the database through it too."""
    return database_sync_to_async(function, thread_sensitive=settings.GAME_DB_ONE_THREAD)


class GameConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        register_server_loop(asyncio.get_running_loop())
        ensure_in_process_clock(asyncio.get_running_loop())
        self.interaction_id = self.scope["url_route"]["kwargs"]["interaction_id"]
        self.timer: asyncio.TimerHandle | None = None
        self.answer_timer: asyncio.TimerHandle | None = None  # a bot's held answer is due
        self.timer_generation = 0  # a newer state re-arms the timers; older wake-ups stand down
        self.sent_version = -1  # the newest game version this socket has been sent
        self.delivering = False  # showing a held bot answer (see _show_held_answer)
        self.missed_version = -1.0  # the newest change notified meanwhile (inf: version unknown)
        self.frames = 0  # every frame this connection sent
        self.window_start = float("-inf")  # the current one-second rate window
        self.window_frames = 0
        self.told_to_slow_down = False  # the one error frame per window for refused frames
        self.closing = False
        self.participant_id, self.role = await database_call(journey.seat_of)(
            self.scope.get("session"), self.interaction_id
        )
        if self.role is None:
            # Only the game's own players (holding their browser session) may join. Accept first, so
            # the browser receives the code rather than a failed handshake (1006) it would retry.
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.seat = f"seat-{self.interaction_id}-{self.role}"
        # A newer tab of the same player takes the seat over; older sockets close themselves.
        await self.channel_layer.group_send(self.seat, {"type": "seat.taken", "by": self.channel_name})
        await self.channel_layer.group_add(self.seat, self.channel_name)
        await self.channel_layer.group_add(group_name(self.interaction_id), self.channel_name)
        await self.accept()
        await self.send_state()

    async def disconnect(self, code):
        self.closing = True
        self.timer_generation += 1
        self._cancel_timers()
        if getattr(self, "role", None) is not None:
            await self.channel_layer.group_discard(self.seat, self.channel_name)
            await self.channel_layer.group_discard(group_name(self.interaction_id), self.channel_name)

    # --- incoming frames ---------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing or self.role is None:
            return  # closed (or closing): whatever is still queued costs nothing
        verdict = self._admit()  # counted before parsing: malformed floods are limited too
        if verdict == "close":
            self.closing = True
            await self.close(code=CLOSE_TOO_MANY_FRAMES)
            return
        if verdict == "refuse":
            await self.send_error("rate_limited", "too many messages; slow down")
            return
        if verdict == "drop":
            return  # refused again within the same second: told once already
        frame, problem = self._parse(text_data, bytes_data)
        if problem:
            await self.send_error("invalid", problem)
            return
        kind = frame["type"]
        if kind == "sync":
            await self.send_state()
            return
        try:
            await database_call(self._move)(kind, frame)
        except play.PlayError as error:
            await self.send_error(error.code, error.message)
            if error.code in {"stale_turn", "not_your_turn", "game_over", "too_late"}:
                await self.send_state()  # the client is behind: show it where the game is

    def _parse(self, text_data, bytes_data) -> tuple[dict, str]:
        if text_data is None:
            return {}, "frames must be JSON text"
        if len(text_data) > MAX_FRAME_CHARS:
            return {}, "frame too large"
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):  # deeply nested input exhausts the parser's recursion
            return {}, "frame is not valid JSON (or nested too deeply)"
        if _deeper_than(frame, MAX_FRAME_DEPTH):
            return {}, "frame is nested too deeply"
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            return {}, 'frame must be an object with a "type"'
        kind = frame["type"]
        if kind not in MOVES | {"sync"}:
            return {}, f"unknown frame type {kind[:40]!r}"
        if kind in MOVES:
            turn = frame.get("turn")
            if not isinstance(turn, int) or isinstance(turn, bool) or not 0 <= turn < 100:
                return {}, '"turn" must be the current turn number'
        if kind == "utterance" and not isinstance(frame.get("text"), str):
            return {}, '"text" must be a string'
        if kind == "toggle":
            if not isinstance(frame.get("image"), str):
                return {}, '"image" must be an image id'
            if not isinstance(frame.get("selected"), bool):
                return {}, '"selected" must be true or false (whether the image is selected afterwards)'
        return frame, ""

    def _admit(self) -> str:
        """"ok", "refuse" (the first frame over the rate limit in this second: one error frame),
        "drop" (refused again in the same second: no reply), or "close" (a flood, or over the cap)."""
        self.frames += 1
        if self.frames > settings.GAME_MAX_FRAMES_PER_CONNECTION:
            return "close"
        now = time.monotonic()
        if now - self.window_start >= 1.0:
            self.window_start, self.window_frames, self.told_to_slow_down = now, 0, False
        self.window_frames += 1
        limit = settings.GAME_FRAME_RATE_LIMIT
        if self.window_frames <= limit:
            return "ok"
        if self.window_frames > FLOOD_FACTOR * limit:
            return "close"
        if self.told_to_slow_down:
            return "drop"
        self.told_to_slow_down = True
        return "refuse"

    def _move(self, kind: str, frame: dict) -> None:
        if kind == "utterance":
            play.submit_utterance(self.interaction_id, self.participant_id, frame["turn"], frame["text"])
        elif kind == "toggle":
            play.toggle_image(
                self.interaction_id, self.participant_id, frame["turn"], frame["image"], selected=frame["selected"]
            )
        elif kind == "submit":
            play.submit_selection(self.interaction_id, self.participant_id, frame["turn"])

    # --- outgoing ------------------------------------------------------------------------------------------

    async def game_changed(self, event):
        if self.closing:
            return
        version = event.get("version")
        if version is not None and version <= self.sent_version:
            return  # sent already: this socket showed the change itself (a held bot answer)
        if self.delivering:  # the delivery's own state goes out first; anything newer after it
            self.missed_version = max(self.missed_version, math.inf if version is None else version)
            return
        await self.send_state()

    async def seat_taken(self, event):
        if event.get("by") != self.channel_name:
            await self.send_frame({"type": "replaced"})
            await self.close(code=CLOSE_REPLACED)

    async def send_state(self):
        await self._send_state_frame(await database_call(game_state_for)(self.interaction_id, self.participant_id))

    async def _send_state_frame(self, state: dict):
        if await self.send_frame({"type": "state", "state": state}):
            self.sent_version = max(self.sent_version, state["version"])
            self._arm_timer(state)

    async def send_error(self, code: str, message: str):
        await self.send_frame({"type": "error", "code": code, "message": message})

    async def send_frame(self, frame: dict) -> bool:
        """Send ``frame``; False when the socket is gone. A state can be on its way while the browser
        closes (its disconnect is handled only after the frame being sent): the server then refuses the
        send (uvicorn raises RuntimeError, others OSError). Nothing is lost: a browser that comes back
        gets the whole state on connecting."""
        if self.closing:
            return False
        try:
            await self.send(text_data=json.dumps(frame))
        except (RuntimeError, OSError):
            self.closing = True
            return False
        return True

    # --- deadlines ---------------------------------------------------------------------------------------

    def _cancel_timers(self) -> None:
        for handle in (self.timer, self.answer_timer):
            if handle is not None:
                handle.cancel()
        self.timer = self.answer_timer = None

    def _arm_timer(self, state: dict) -> None:
        """Wake up when the current phase's deadline passes and let the service act on it, and when
        a bot listener's answer is due to be shown.

        Every connected player arms one; the service is idempotent, so exactly one acts. When no
        one is connected, the ``game_clock`` process sweeps overdue games.
        """
        self._cancel_timers()
        self.timer_generation += 1
        if state["outcome"] is not None:
            return
        generation = self.timer_generation
        loop = asyncio.get_running_loop()
        if state.get("bot_answer_in") is not None:
            self.answer_timer = loop.call_later(
                state["bot_answer_in"], lambda: asyncio.ensure_future(self._show_held_answer(generation))
            )
        if state["seconds_left"] is None:
            return
        self.timer = loop.call_later(
            state["seconds_left"] + 0.05, lambda: asyncio.ensure_future(self._deadline(generation))
        )

    async def _show_held_answer(self, generation: int):
        """The display time of the bot's answer: record the held answer (if the model has answered)
        and send the new state from this socket, so that no other process and no channel layer lie
        between the display time and the speaker. The inference worker's timer and the game clock
        act ``play.HELD_ANSWER_BACKUP_DELAY`` later, where no socket did this."""
        if generation != self.timer_generation or self.closing:
            return
        self.delivering, self.missed_version = True, -1.0
        try:
            state = await database_call(self._deliver_held_answer)()
            if state is not None:
                await self._send_state_frame(state)
        except Exception:  # the stored answer stays for the backups; the socket goes on
            log.exception("could not show the held answer of interaction %s", self.interaction_id)
        finally:
            self.delivering = False
        if self.missed_version > self.sent_version:
            await self.send_state()

    def _deliver_held_answer(self) -> dict | None:
        """The new state if this call recorded the held answer, else None (none held yet, or another
        process was first: that one's notification brings the state)."""
        if not play.deliver_held_action(self.interaction_id):
            return None
        return game_state_for(self.interaction_id, self.participant_id)

    async def _deadline(self, generation: int, polls: int = 0):
        if generation != self.timer_generation:
            return
        moved = await database_call(play.enforce_deadline)(self.interaction_id)
        if moved is None and polls < 12 and generation == self.timer_generation:
            # Inside the idle grace period, or another process is acting: look again shortly.
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(
                0.5, lambda: asyncio.ensure_future(self._deadline(generation, polls + 1))
            )
