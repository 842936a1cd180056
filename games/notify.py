"""Telling connected browsers that a game changed.

Consumers of an interaction share the group ``interaction-<id>``; on ``game.changed`` each one reads
the state for its own role and sends it (so a listener never receives what only the speaker may
see). Notifications are sent after the transaction commits.
"""
import asyncio
import copy
import logging
import os
import threading

from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer

log = logging.getLogger(__name__)
_server_loop: asyncio.AbstractEventLoop | None = None
_own: tuple | None = None  # (process id, layer settings, loop, sending layer): see _own_sender
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


def _own_sender() -> tuple[asyncio.AbstractEventLoop, object]:
    """For a process without a server loop (inference workers, the game clock) and a layer that
    reaches other processes (Redis): one long-lived event loop on a thread of this process, with a
    layer instance of its own. A layer keeps its connections per event loop, so a fresh loop per
    notification would connect to Redis for every turn; its own instance keeps those connections
    apart from the default layer's (whose ``flush`` closes every loop's connections from the caller's).

    The sender is replaced after a fork or when the layer's settings change (tests override them),
    never because another default-layer instance turned up: Channels creates the default layer
    lazily without a lock, so worker threads notifying at once can each get an instance of their own,
    and replacing the sender for each stopped the loop that the first notifications were waiting on."""
    global _own
    config = copy.deepcopy(channel_layers.configs.get(DEFAULT_CHANNEL_LAYER))
    with _lock:
        if _own is None or _own[0] != os.getpid() or _own[1] != config:  # none yet, a fork, new settings
            if _own is not None and _own[0] == os.getpid():
                _own[2].call_soon_threadsafe(_own[2].stop)
            loop = asyncio.new_event_loop()
            running = threading.Event()
            loop.call_soon(running.set)
            threading.Thread(target=loop.run_forever, name="notifications", daemon=True).start()
            running.wait(5)
            _own = (os.getpid(), config, loop, channel_layers.make_backend(DEFAULT_CHANNEL_LAYER))
        return _own[2], _own[3]


def notify_interaction(interaction_id: int, version: int | None = None) -> None:
    """Tell the game's consumers it changed; ``version`` (the interaction's version after the change)
    lets a consumer that has already sent that state skip it."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "game.changed", "interaction": interaction_id}
    if version is not None:
        message["version"] = version
    loop = _server_loop  # the in-memory layer lives in the server's loop, or in the caller's
    if loop is None and not isinstance(layer, InMemoryChannelLayer):
        loop, layer = _own_sender()
    coroutine = layer.group_send(group_name(interaction_id), message)
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
