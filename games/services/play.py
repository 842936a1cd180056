"""The live game engine: the only code that moves a game forward.

Every move (a message, a click, a submit, a model's answer, a deadline) is one transaction that
locks the interaction row, checks the move against the current turn and phase, and either changes
the game and bumps its ``version`` or changes nothing and raises ``PlayError``. Browsers are
notified and the model is asked for its action only after the transaction commits. Moves are
idempotent per turn: a repeated submit, a retried model answer or a late one after a fallback
finds the turn already decided and changes nothing.

How a game progresses (the next selection, success, the turn limit) is decided by the pure
``rules.GameState``, replayed from the recorded turns and stepped once per decided turn; this module
only stores what it decides. Bot turns are asked of the bot port (``games.bots``); status changes
go through ``games.services.lifecycle``; pay and the players' next step after a game are
``games.services.settlement``'s.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from games import selectors
from games.bots import bot_backend
from games.domain import rules
from games.domain.study_settings import StudySettings
from games.models import GameConfig, Interaction, Participant, Turn
from games.notify import notify_interaction
from games.services import lifecycle, uptime
from games.services.settlement import settle_game

MAX_UTTERANCE_CHARS = 300
SPEAKER, LISTENER = Interaction.Role.SPEAKER, Interaction.Role.LISTENER
BOT_ATTEMPTS = 2  # the first request and one retry, then the recorded fallback


class PlayError(Exception):
    """A move that is not allowed now; nothing was changed. ``code`` is machine-readable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ListenerAction:
    select: frozenset[str]
    deselect: frozenset[str]
    source: str
    raw_output: str = ""
    probability: float | None = None
    checkpoint_id: int | None = None
    latency_seconds: float | None = None


# --- starting -------------------------------------------------------------------------------------


@transaction.atomic
def start_game(
    *,
    config: GameConfig,
    speaker: Participant | None,
    listener_kind: str,
    listener: Participant | None = None,
    deployment=None,
    checkpoint=None,
    purpose: str = Interaction.Purpose.STUDY,
    settings: dict | None = None,
) -> Interaction:
    """Create a game in play: turn 0, the speaker's window open."""
    study = StudySettings.from_dict(settings or {})
    now = timezone.now()
    interaction = Interaction.objects.create(
        deployment=deployment,
        purpose=purpose,
        config=config,
        speaker=speaker,
        listener=listener,
        listener_kind=listener_kind,
        checkpoint=checkpoint,
        settings=study.to_dict(),
        status=Interaction.Status.PLAYING,
        started_at=now,
        phase=Interaction.Phase.SPEAKER,
        turn_started_at=now,
        phase_started_at=now,
        phase_deadline=now + timedelta(seconds=study.timing.speaker_seconds),
    )
    return interaction


def _locked(interaction_id: int) -> Interaction:
    try:
        return Interaction.objects.select_for_update().get(pk=interaction_id)
    except Interaction.DoesNotExist:
        raise PlayError("not_found", "no such game") from None


def _require(interaction: Interaction, participant_id: int, role: str, turn: int, phase: str) -> None:
    if interaction.role_of(participant_id) != role:
        raise PlayError("not_your_role", f"only the {role} can do this")
    if interaction.status != Interaction.Status.PLAYING:
        raise PlayError("game_over", "the game has ended")
    if turn != interaction.turn_count:
        raise PlayError("stale_turn", f"turn {turn} is over; the game is at turn {interaction.turn_count}")
    if interaction.phase != phase:
        raise PlayError("not_your_turn", f"it is the {interaction.phase}'s turn")


def _save(interaction: Interaction, now: datetime) -> None:
    interaction.version += 1
    interaction.save()
    pk, version = interaction.pk, interaction.version
    transaction.on_commit(lambda: notify_interaction(pk, version))


# --- speaker -------------------------------------------------------------------------------------------


@transaction.atomic
def submit_utterance(interaction_id: int, participant_id: int, turn: int, text: str) -> Interaction:
    interaction = _locked(interaction_id)
    _require(interaction, participant_id, SPEAKER, turn, Interaction.Phase.SPEAKER)
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise PlayError("invalid", "the message is empty")
    if len(text) > MAX_UTTERANCE_CHARS:
        raise PlayError("invalid", f"the message is longer than {MAX_UTTERANCE_CHARS} characters")
    if "\x00" in text:  # PostgreSQL text cannot hold NUL: refuse it here rather than fail the save
        raise PlayError("invalid", "the message contains an invalid character")
    study = interaction.study_settings
    now = timezone.now()
    if interaction.phase_deadline and now > interaction.phase_deadline + timedelta(
        seconds=study.timing.idle_grace_seconds
    ):
        raise PlayError("too_late", "the time for this message is over")
    interaction.pending_utterance = text
    interaction.phase = Interaction.Phase.LISTENER
    interaction.phase_started_at = now
    interaction.listener_clicked = False
    interaction.live_selection = sorted(interaction.committed_selection)
    if interaction.listener_kind != "human":
        interaction.bot_attempt = 1
        interaction.phase_deadline = now + timedelta(seconds=study.timing.bot_deadline_seconds)
        _dispatch_bot_on_commit(interaction.pk, turn, 1)
    else:
        interaction.phase_deadline = now + timedelta(seconds=study.timing.listener_seconds)
    _save(interaction, now)
    return interaction


def _dispatch_bot_on_commit(interaction_id: int, turn: int, attempt: int) -> None:
    transaction.on_commit(lambda: bot_backend().request_action(interaction_id, turn, attempt))


# --- human listener ---------------------------------------------------------------------------------


@transaction.atomic
def toggle_image(
    interaction_id: int, participant_id: int, turn: int, image: str, *, selected: bool | None = None
) -> Interaction:
    """The human listener selects or deselects one image. ``selected`` says which (whether the image
    is selected afterwards), so a replayed click finds it done and changes nothing; None flips it."""
    interaction = _locked(interaction_id)
    _require(interaction, participant_id, LISTENER, turn, Interaction.Phase.LISTENER)
    context = set(interaction.config.tangrams.values_list("name", flat=True))
    if not isinstance(image, str) or image not in context:
        raise PlayError("invalid", "that image is not in this game")
    if selected is not None and not isinstance(selected, bool):
        raise PlayError("invalid", "selected must be true or false")
    selection = set(interaction.live_selection)
    if selected is not None and (image in selection) == selected:
        return interaction  # already so: a replayed click changes nothing
    selection ^= {image}
    interaction.live_selection = sorted(selection)
    interaction.listener_clicked = True
    _save(interaction, timezone.now())
    return interaction


@transaction.atomic
def submit_selection(interaction_id: int, participant_id: int, turn: int) -> Interaction:
    """The human listener submits the selection they have built. Repeating it is harmless."""
    interaction = _locked(interaction_id)
    if interaction.role_of(participant_id) == LISTENER and turn < interaction.turn_count:
        return interaction  # already decided: a repeated submit changes nothing
    _require(interaction, participant_id, LISTENER, turn, Interaction.Phase.LISTENER)
    action = rules.action_between(interaction.committed_selection, frozenset(interaction.live_selection))
    if action.is_empty:
        raise PlayError("invalid", "select or deselect at least one image before submitting")
    now = timezone.now()
    _record_listener_turn(
        interaction,
        ListenerAction(select=action.select, deselect=action.deselect, source=Turn.ActionSource.HUMAN),
        now,
    )
    return interaction


# --- bot listener ------------------------------------------------------------------------------------


def _bot_turn_open(interaction: Interaction, turn: int) -> bool:
    return (
        interaction.status == Interaction.Status.PLAYING
        and interaction.turn_count == turn
        and interaction.phase == Interaction.Phase.LISTENER
        and interaction.listener_kind != "human"
    )


@transaction.atomic
def apply_listener_action(interaction_id: int, turn: int, action: ListenerAction) -> bool:
    """Record a bot's action for ``turn``. False (and nothing changed) if that turn is decided."""
    interaction = _locked(interaction_id)
    if not _bot_turn_open(interaction, turn):
        return False
    _record_listener_turn(interaction, action, timezone.now())
    return True


# A held answer is shown by the speaker's socket at its display time (``games.consumers``); the other
# deliverers (the inference worker's timer, the game clock's sweep) act this much later, so that they
# step in only where no socket did (none connected, a crash) rather than contend for the same row.
HELD_ANSWER_BACKUP_DELAY = timedelta(seconds=0.25)


@transaction.atomic
def hold_listener_action(interaction_id: int, turn: int, action: ListenerAction, show_at: datetime) -> bool:
    """Store a bot's action for ``turn``, to be recorded and shown at ``show_at`` (the bot's minimum
    display delay). False (nothing changed) if the turn is decided or an answer is already held.

    The speaker's socket delivers it at that time (``deliver_held_action``), the caller and the game
    clock's sweep ``HELD_ANSWER_BACKUP_DELAY`` later should no socket have done it; if the caller dies,
    the sweep (or any ``enforce_deadline``) delivers it, so an answer is never lost to a crash.
    Holding is not a visible change: no version bump, no notification."""
    interaction = _locked(interaction_id)
    if not _bot_turn_open(interaction, turn) or interaction.held_action is not None:
        return False
    interaction.held_action = {
        "turn": turn, "select": sorted(action.select), "deselect": sorted(action.deselect),
        "source": action.source, "raw_output": action.raw_output, "probability": action.probability,
        "checkpoint_id": action.checkpoint_id, "latency_seconds": action.latency_seconds,
    }
    interaction.held_action_at = show_at
    interaction.save(update_fields=["held_action", "held_action_at"])
    return True


@transaction.atomic
def deliver_held_action(interaction_id: int, now: datetime | None = None) -> bool:
    """Record the held bot action once its display time has come. False (nothing changed) when there
    is none, it is not due yet, or its turn is already decided (safe to call any time)."""
    try:
        interaction = Interaction.objects.select_for_update().get(pk=interaction_id)
    except Interaction.DoesNotExist:
        return False
    return _deliver_held(interaction, now or timezone.now())


def _deliver_held(interaction: Interaction, now: datetime) -> bool:
    held = interaction.held_action
    if held is None or interaction.held_action_at is None or interaction.held_action_at > now:
        return False
    if not _bot_turn_open(interaction, held.get("turn")):
        return False
    action = ListenerAction(
        select=frozenset(held["select"]), deselect=frozenset(held["deselect"]), source=held["source"],
        raw_output=held.get("raw_output") or "", probability=held.get("probability"),
        checkpoint_id=held.get("checkpoint_id"), latency_seconds=held.get("latency_seconds"),
    )
    _record_listener_turn(interaction, action, now)
    return True


def fallback_action(interaction: Interaction, source: str) -> ListenerAction:
    """The recorded fallback: toggle the listener's first (top-left) image, probability -1."""
    first = (
        interaction.config.context_images.order_by("listener_position").values_list("tangram__name", flat=True).first()
    )
    selected = interaction.committed_selection
    toggle = frozenset({first})
    return ListenerAction(
        select=toggle - selected,
        deselect=toggle & selected,
        source=source,
        probability=Turn.PROBABILITY_FALLBACK if source != Turn.ActionSource.ERROR else Turn.PROBABILITY_ERROR,
        checkpoint_id=interaction.checkpoint_id,
    )


# --- deadlines -----------------------------------------------------------------------------------------


@transaction.atomic
def enforce_deadline(interaction_id: int, now: datetime | None = None) -> str | None:
    """Act on a passed deadline: a held bot answer whose display time has come, idle endings, the
    listener's auto-submit, the bot's retry and fallback. Returns what happened, or None when nothing
    was due (safe to call any time). While the site is down (``uptime.server_down``) no person's
    deadline runs out (a bot's retry and fallback go on): the outage is made up for when it is back."""
    now = now or timezone.now()
    try:
        interaction = Interaction.objects.select_for_update().get(pk=interaction_id)
    except Interaction.DoesNotExist:
        return None
    if interaction.status != Interaction.Status.PLAYING:
        return None
    if _deliver_held(interaction, now):
        return "bot_answer"
    if interaction.phase_deadline is None:
        return None
    study = interaction.study_settings
    bot_phase = interaction.phase == Interaction.Phase.LISTENER and interaction.listener_kind != "human"
    grace = 0.0 if bot_phase else study.timing.idle_grace_seconds
    if now < interaction.phase_deadline + timedelta(seconds=grace):
        return None
    if not bot_phase and uptime.server_down():
        return None  # no person could move while the site was down: its outage is not theirs
    turn = interaction.turn_count
    if interaction.phase == Interaction.Phase.SPEAKER:
        _end(interaction, Interaction.EndReason.SPEAKER_IDLE, now)
        return "speaker_idle"
    if bot_phase:
        if interaction.bot_attempt < BOT_ATTEMPTS:
            interaction.bot_attempt += 1
            interaction.phase_deadline = now + timedelta(seconds=study.timing.bot_deadline_seconds)
            _dispatch_bot_on_commit(interaction.pk, turn, interaction.bot_attempt)
            _save(interaction, now)
            return "bot_retry"
        _record_listener_turn(interaction, fallback_action(interaction, Turn.ActionSource.TIMEOUT), now)
        return "bot_fallback"
    action = rules.action_between(interaction.committed_selection, frozenset(interaction.live_selection))
    if interaction.listener_clicked and not action.is_empty:
        _record_listener_turn(
            interaction,
            ListenerAction(select=action.select, deselect=action.deselect, source=Turn.ActionSource.HUMAN),
            now,
        )
        return "auto_submit"
    _end(interaction, Interaction.EndReason.LISTENER_IDLE, now)
    return "listener_idle"


@transaction.atomic
def cancel_game(interaction_id: int, now: datetime | None = None) -> bool:
    """End a game in play by staff decision (e.g. closing its round): reason ``cancelled``, the players
    paid for their time. False (nothing changed) when the game is not in play."""
    interaction = _locked(interaction_id)
    if interaction.status != Interaction.Status.PLAYING:
        return False
    _end(interaction, Interaction.EndReason.CANCELLED, now or timezone.now())
    return True


def expire_overdue(now: datetime | None = None) -> int:
    """Enforce every passed deadline (the game clock's sweep); returns how many games moved."""
    now = now or timezone.now()
    due = Interaction.objects.filter(status=Interaction.Status.PLAYING).filter(
        Q(phase_deadline__lte=now) | Q(held_action_at__lte=now - HELD_ANSWER_BACKUP_DELAY)
    ).values_list("pk", flat=True)
    return sum(1 for pk in list(due) if enforce_deadline(pk, now))


# --- recording and ending ------------------------------------------------------------------------------------


def _record_listener_turn(interaction: Interaction, action: ListenerAction, now: datetime) -> None:
    """Decide the turn: step the game (``GameState``) with the pending utterance and the action,
    record the turn, then end the game or open the speaker's next turn as the state says.
    ``interaction`` is the row the caller locked in its transaction."""
    state = selectors.game_state_of(interaction)
    try:
        result = state.submit(rules.Action(select=action.select, deselect=action.deselect),
                              interaction.pending_utterance)
    except rules.RuleError as exc:
        raise lifecycle.TurnError(str(exc)) from None
    utterance_at = interaction.phase_started_at or now
    lifecycle.append_turn_locked(
        interaction,
        index=result.turn - 1,
        utterance=interaction.pending_utterance,
        selection_before=result.selection_before,
        selected=result.action.select,
        deselected=result.action.deselect,
        action_source=action.source,
        raw_output=action.raw_output,
        action_probability=action.probability,
        checkpoint_id=action.checkpoint_id,
        speaker_seconds=_seconds(interaction.turn_started_at, utterance_at),
        listener_seconds=_seconds(utterance_at, now),
        model_latency_seconds=action.latency_seconds,
    )
    interaction.turn_count = state.turn  # append_turn incremented the stored counter the same way
    interaction.pending_utterance = ""
    interaction.live_selection = sorted(result.selection_after)
    interaction.listener_clicked = False
    interaction.bot_attempt = 0
    interaction.held_action = None
    interaction.held_action_at = None
    if result.ended:
        _end(interaction, Interaction.EndReason(result.outcome), now)
    else:
        interaction.phase = Interaction.Phase.SPEAKER
        interaction.turn_started_at = now
        interaction.phase_started_at = now
        interaction.phase_deadline = now + timedelta(seconds=interaction.study_settings.timing.speaker_seconds)
        _save(interaction, now)


def _end(interaction: Interaction, reason: str, now: datetime) -> None:
    lifecycle.end_interaction(interaction.pk, reason, at=now)  # the checked status change
    interaction.status = Interaction.Status.ENDED
    interaction.phase = Interaction.Phase.ENDED
    interaction.end_reason = reason
    interaction.ended_at = now
    interaction.phase_deadline = None
    interaction.held_action = None
    interaction.held_action_at = None
    _save(interaction, now)
    settle_game(interaction)


def _seconds(start: datetime | None, end: datetime) -> float | None:
    if start is None:
        return None
    return max(0.0, (end - start).total_seconds())

