"""Telling connected browsers that a game changed.

Consumers of an interaction share the group ``interaction-<id>``; on ``game.changed`` each one reads
the state for its own role and sends it (so a listener never receives what only the speaker may
see). Notifications are sent after the transaction commits.
"""
import asyncio
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

log = logging.getLogger(__name__)
_server_loop: asyncio.AbstractEventLoop | None = None
_own_loop: tuple[int, asyncio.AbstractEventLoop] | None = None  # (process id, loop): see _sending_loop
_lock = threading.Lock()


def group_name(interaction_id: int) -> str:
    return f"interaction-{interaction_id}"


def register_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the ASGI server's event loop (called by consumers on connect).

    In the embedded default the in-memory channel layer lives in that loop, and in-process bot
    workers run in plain threads: they must hand their notifications to that loop rather than
    start a loop of their own.
    """
    global _server_loop
    with _lock:
        _server_loop = loop


def _sending_loop(layer) -> asyncio.AbstractEventLoop | None:
    """The loop to send notifications in from this thread: the server's, where one runs; in a
    process without one (inference workers, the game clock) and with a layer that reaches other
    processes (Redis), a long-lived loop of this process's own. A layer keeps its connections per
    event loop: a fresh loop per notification would connect to Redis for every turn."""
    if _server_loop is not None or isinstance(layer, InMemoryChannelLayer):
        return _server_loop  # the in-memory layer lives in the server's loop, or in the caller's
    global _own_loop
    with _lock:
        if _own_loop is None or _own_loop[0] != os.getpid():  # none yet, or inherited through a fork
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="notifications", daemon=True).start()
            _own_loop = (os.getpid(), loop)
        return _own_loop[1]


def notify_interaction(interaction_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "game.changed", "interaction": interaction_id}
    coroutine = layer.group_send(group_name(interaction_id), message)
    loop = _sending_loop(layer)
    try:
        if loop is not None and loop.is_running() and not _in_loop_thread(loop):
            asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=5)
        else:
            async_to_sync(layer.group_send)(group_name(interaction_id), message)
            coroutine.close()
    except Exception:  # a lost notification must never undo a recorded turn; clients resync on reconnect
        log.exception("could not notify interaction %s", interaction_id)


def _in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
