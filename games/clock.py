"""The in-process game clock of the embedded default.

Production runs ``manage.py game_clock`` as its own process. The embedded default has only the
web process, so the first websocket connection starts a background task in the server's event
loop that sweeps overdue games every second (a game whose players closed their browsers still
ends, and both are still paid for their time).
"""
import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings

log = logging.getLogger(__name__)
_started_loops: set[int] = set()


def ensure_in_process_clock(loop: asyncio.AbstractEventLoop) -> None:
    if not settings.GAME_CLOCK_IN_PROCESS or id(loop) in _started_loops:
        return
    _started_loops.add(id(loop))
    loop.create_task(_tick_forever())


async def _tick_forever(interval: float = 1.0) -> None:
    from games.services.play import expire_overdue

    while True:
        try:
            await database_sync_to_async(expire_overdue)()
        except Exception:  # keep ticking: one bad sweep must not stop every future deadline
            log.exception("game clock sweep failed")
        await asyncio.sleep(interval)
