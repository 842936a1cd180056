"""Telling connected browsers that a game changed.

Consumers of an interaction share the group ``interaction-<id>``; on ``game.changed`` each one reads
the state for its own role and sends it (so a listener never receives what only the speaker may
see). Notifications are sent after the transaction commits.
"""
import asyncio
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)
_server_loop: asyncio.AbstractEventLoop | None = None
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


def notify_interaction(interaction_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "game.changed", "interaction": interaction_id}
    coroutine = layer.group_send(group_name(interaction_id), message)
    loop = _server_loop
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
