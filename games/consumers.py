"""The game websocket: validates frames, calls one service each, pushes state. No game logic here.

Client frames::

    {"type": "utterance", "turn": k, "text": "..."}   speaker
    {"type": "toggle", "turn": k, "image": "<id>"}    human listener
    {"type": "submit", "turn": k}                     human listener
    {"type": "sync"}                                  anyone: resend the full state

Server frames: ``{"type": "state", "state": {...}}`` (the role's view, see
``games.selectors.game_state_for``), ``{"type": "error", "code": ..., "message": ...}`` and
``{"type": "replaced"}`` (another tab of the same player took over; the socket then closes).
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import deque

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from games.clock import ensure_in_process_clock
from games.notify import group_name, register_server_loop
from games.selectors import game_state_for
from games.services import play

SESSION_PARTICIPANT_KEY = "participant_id"
MAX_FRAME_CHARS = 4096
MOVES = {"utterance", "toggle", "submit"}
CLOSE_FORBIDDEN = 4403
CLOSE_REPLACED = 4409


class GameConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        register_server_loop(asyncio.get_running_loop())
        ensure_in_process_clock(asyncio.get_running_loop())
        self.interaction_id = self.scope["url_route"]["kwargs"]["interaction_id"]
        session = self.scope.get("session")
        self.participant_id = session.get(SESSION_PARTICIPANT_KEY) if session is not None else None
        self.role = await database_sync_to_async(self._role)()
        self.timer: asyncio.TimerHandle | None = None
        self.timer_generation = 0  # a newer state re-arms the timer; older wake-ups stand down
        self.recent: deque[float] = deque()
        if self.role is None:
            await self.close(code=CLOSE_FORBIDDEN)  # only the game's own players may join
            return
        self.seat = f"seat-{self.interaction_id}-{self.role}"
        # A newer tab of the same player takes the seat over; older sockets close themselves.
        await self.channel_layer.group_send(self.seat, {"type": "seat.taken", "by": self.channel_name})
        await self.channel_layer.group_add(self.seat, self.channel_name)
        await self.channel_layer.group_add(group_name(self.interaction_id), self.channel_name)
        await self.accept()
        await self.send_state()

    def _role(self) -> str | None:
        from games.models import Interaction

        interaction = Interaction.objects.filter(pk=self.interaction_id).first()
        return interaction.role_of(self.participant_id) if interaction else None

    async def disconnect(self, code):
        self.timer_generation += 1
        if self.timer is not None:
            self.timer.cancel()
        if getattr(self, "role", None) is not None:
            await self.channel_layer.group_discard(self.seat, self.channel_name)
            await self.channel_layer.group_discard(group_name(self.interaction_id), self.channel_name)

    # --- incoming frames ---------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if not self._within_rate_limit():  # counted before parsing: malformed floods are limited too
            await self.send_error("rate_limited", "too many messages; slow down")
            return
        frame, problem = self._parse(text_data, bytes_data)
        if problem:
            await self.send_error("invalid", problem)
            return
        kind = frame["type"]
        if kind == "sync":
            await self.send_state()
            return
        try:
            await database_sync_to_async(self._move)(kind, frame)
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
        except ValueError:
            return {}, "frame is not valid JSON"
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
        if kind == "toggle" and not isinstance(frame.get("image"), str):
            return {}, '"image" must be an image id'
        return frame, ""

    def _within_rate_limit(self) -> bool:
        now = time.monotonic()
        while self.recent and now - self.recent[0] > 1.0:
            self.recent.popleft()
        if len(self.recent) >= settings.GAME_FRAME_RATE_LIMIT:
            return False
        self.recent.append(now)
        return True

    def _move(self, kind: str, frame: dict) -> None:
        if kind == "utterance":
            play.submit_utterance(self.interaction_id, self.participant_id, frame["turn"], frame["text"])
        elif kind == "toggle":
            play.toggle_image(self.interaction_id, self.participant_id, frame["turn"], frame["image"])
        elif kind == "submit":
            play.submit_selection(self.interaction_id, self.participant_id, frame["turn"])

    # --- outgoing ------------------------------------------------------------------------------------------

    async def game_changed(self, event):
        await self.send_state()

    async def seat_taken(self, event):
        if event.get("by") != self.channel_name:
            await self.send(text_data=json.dumps({"type": "replaced"}))
            await self.close(code=CLOSE_REPLACED)

    async def send_state(self):
        state = await database_sync_to_async(game_state_for)(self.interaction_id, self.participant_id)
        await self.send(text_data=json.dumps({"type": "state", "state": state}))
        self._arm_timer(state)

    async def send_error(self, code: str, message: str):
        await self.send(text_data=json.dumps({"type": "error", "code": code, "message": message}))

    # --- deadlines ---------------------------------------------------------------------------------------

    def _arm_timer(self, state: dict) -> None:
        """Wake up when the current phase's deadline passes and let the service act on it.

        Every connected player arms one; the service is idempotent, so exactly one acts. When no
        one is connected, the ``game_clock`` process sweeps overdue games.
        """
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.timer_generation += 1
        if state["outcome"] is not None or state["seconds_left"] is None:
            return
        generation = self.timer_generation
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(
            state["seconds_left"] + 0.05, lambda: asyncio.ensure_future(self._deadline(generation))
        )

    async def _deadline(self, generation: int, polls: int = 0):
        if generation != self.timer_generation:
            return
        moved = await database_sync_to_async(play.enforce_deadline)(self.interaction_id)
        if moved is None and polls < 12 and generation == self.timer_generation:
            # Inside the idle grace period, or another process is acting: look again shortly.
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(
                0.5, lambda: asyncio.ensure_future(self._deadline(generation, polls + 1))
            )
