"""The web process's clock: a task in the server's event loop, started with the server.

Every second it beats (``games.services.uptime.beat``: the heartbeat that tells a server outage from
idle players; deadlines are extended by an outage, ``GAME_HEARTBEAT``) and, in the embedded
default (``GAME_CLOCK_IN_PROCESS``), sweeps overdue games and held bot answers (production runs
``manage.py game_clock`` for that): a game whose players closed their browsers still ends, and a
bot answer held across a restart is shown at once.

It starts with the server, not with the first websocket, so games left overdue by a restart are
swept before anyone connects: ``ServerClock`` (wrapping the ASGI application) starts it at the ASGI
lifespan startup (Uvicorn, Hypercorn); Daphne speaks no lifespan, so ``start_with_daphne`` starts it
as Daphne's reactor starts (``respect_site.asgi`` calls it). Any connection starts it too, should
neither have.
"""
import asyncio
import logging
import sys

from channels.db import database_sync_to_async
from django.conf import settings

from games.notify import register_server_loop

log = logging.getLogger(__name__)
_clocks: dict[int, asyncio.Task] = {}  # id(loop) -> the clock task running in it


def clock_enabled() -> bool:
    return bool(settings.GAME_HEARTBEAT or settings.GAME_CLOCK_IN_PROCESS)


def ensure_in_process_clock(loop: asyncio.AbstractEventLoop) -> None:
    """Start this process's clock in ``loop`` unless it runs there already (or is switched off)."""
    running = _clocks.get(id(loop))
    if not clock_enabled() or (running is not None and not running.done()):
        return
    register_server_loop(loop)
    _clocks[id(loop)] = loop.create_task(_tick_forever())


def stop_in_process_clock(loop: asyncio.AbstractEventLoop) -> None:
    """Stop the clock running in ``loop`` (the server shuts down)."""
    task = _clocks.pop(id(loop), None)
    if task is not None:
        task.cancel()


def tick() -> None:
    """One second of the clock: the heartbeat first (making up for an outage), then the sweep."""
    from games.services.play import expire_overdue
    from games.services.uptime import beat

    if settings.GAME_HEARTBEAT:
        beat()
    if settings.GAME_CLOCK_IN_PROCESS:
        expire_overdue()


async def _tick_forever(interval: float = 1.0) -> None:
    while True:
        try:
            await database_sync_to_async(tick)()
        except Exception:  # keep ticking: one bad sweep must not stop every future deadline
            log.exception("game clock tick failed")
        await asyncio.sleep(interval)


class ServerClock:
    """ASGI wrapper that starts the clock with the server (lifespan), or with its first connection."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    ensure_in_process_clock(asyncio.get_running_loop())
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    stop_in_process_clock(asyncio.get_running_loop())
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        ensure_in_process_clock(asyncio.get_running_loop())
        return await self.application(scope, receive, send)


def start_with_daphne() -> bool:
    """Under Daphne (no ASGI lifespan), start the clock as its reactor starts, before it serves a
    connection. Returns whether a Twisted asyncio reactor was found to hook (none: not Daphne)."""
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or not hasattr(reactor, "callWhenRunning") or not hasattr(reactor, "_asyncioEventloop"):
        return False

    def start_in_loop():  # runs inside the reactor's asyncio loop
        ensure_in_process_clock(asyncio.get_running_loop())

    reactor.callWhenRunning(lambda: reactor.callLater(0, start_in_loop))
    return True
