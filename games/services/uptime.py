"""Telling a server outage from idle players.

While the web processes are down (or cannot reach the database), nobody can send a move, so no
deadline may run out meanwhile. Every web process beats once a second (``beat``, from its clock,
``games.clock``); times are the database's, so web hosts with skewed clocks agree. A beat that finds
the previous one older than ``GAME_OUTAGE_SECONDS`` knows the site was down for that long, and moves
the deadline of every game in play on by it (the players then get the time they lost, and their
browsers are told). Until then, ``server_down`` holds the deadlines of people: the engine ends no
one as idle while the heartbeat is stale (e.g. a ``game_clock`` process sweeping while the web is
down); a bot's retry and fallback go on, nobody being blamed for those.

A deployment where no web process has ever beaten (simulations, tests) has no heartbeat, and
deadlines run as they always did.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Now

from games.models import Interaction, ServerHeartbeat
from games.notify import notify_interaction

log = logging.getLogger(__name__)
WEB = "web"


@transaction.atomic
def beat() -> float:
    """Record that a web process is up. Returns the outage (seconds) it found and made up for, or 0."""
    row = (
        ServerHeartbeat.objects.select_for_update().filter(name=WEB)
        .annotate(database_now=Now()).values("beat_at", "database_now").first()
    )
    if row is None:
        try:
            with transaction.atomic():
                ServerHeartbeat.objects.create(name=WEB, beat_at=Now())
        except IntegrityError:  # another web process made it first
            pass
        return 0.0
    gap = (row["database_now"] - row["beat_at"]).total_seconds()
    outage = gap if gap > settings.GAME_OUTAGE_SECONDS else 0.0
    if outage:
        extend_deadlines(outage)
    ServerHeartbeat.objects.filter(name=WEB).update(beat_at=Now())
    return outage


def extend_deadlines(seconds: float) -> int:
    """Move the deadline of every game in play on by ``seconds`` (an outage); returns how many."""
    moved = list(
        Interaction.objects.filter(status=Interaction.Status.PLAYING, phase_deadline__isnull=False)
        .values_list("pk", flat=True)
    )
    Interaction.objects.filter(pk__in=moved).update(
        phase_deadline=F("phase_deadline") + timedelta(seconds=seconds), version=F("version") + 1
    )
    for pk in moved:
        transaction.on_commit(partial(notify_interaction, pk))
    log.warning("the site was down for %.0f s: the deadlines of %d games in play were extended by it", seconds, len(moved))
    return len(moved)


def server_down() -> bool:
    """Whether the web processes have stopped beating (an outage now, or one not yet made up for)."""
    stale = Now() - timedelta(seconds=settings.GAME_OUTAGE_SECONDS)
    return ServerHeartbeat.objects.filter(name=WEB, beat_at__lt=stale).exists()
