"""The participant journey: entry link, consent, practice, lobby and matching, survey, pay.

consent -> instructions (practice game against the oracle) -> lobby -> game -> survey -> done

The participant's stage is server-side state; pages only show what the stage allows. External ids
are stored as keyed hashes, never raw.
"""
from __future__ import annotations

import hashlib
import hmac
import random
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlparse

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from games.domain.study_settings import StudySettings
from games.models import Deployment, GameConfig, Interaction, Participant, Round, RoundConfig
from games.services import play

MAX_ID_CHARS = 128
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-.:]+$")
MTURK_SUBMIT_HOSTS = {"www.mturk.com", "workersandbox.mturk.com"}
SURVEY_SCALE = range(1, 7)
SURVEY_ITEMS = {
    "speaker": ("satisfied", "comprehension"),
    "listener": ("satisfied", "grammatical", "clear", "ambiguous"),
}
MAX_COMMENT_CHARS = 2000


class JourneyError(Exception):
    """A step the participant cannot take now (or bad input); nothing was changed."""


@dataclass(frozen=True)
class LobbyStatus:
    state: str  # "waiting" | "matched" | "timed_out" | "not_in_lobby"
    waited_seconds: float = 0.0
    timeout_seconds: float = 0.0
    interaction_id: int | None = None


def hash_external_id(value: str) -> str:
    """Keyed hash of a worker / assignment id: stable for this deployment, useless elsewhere."""
    key = (getattr(settings, "PARTICIPANT_HASH_KEY", "") or settings.SECRET_KEY).encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def _clean_id(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip()
    if not value:
        raise JourneyError(f"the link is missing {name}")
    if len(value) > MAX_ID_CHARS or not _ID_PATTERN.match(value):
        raise JourneyError(f"the link has an invalid {name}")
    return value


@transaction.atomic
def enter(params: Mapping[str, str]) -> Participant:
    """Find or create the participant named by an MTurk or Prolific entry link."""
    if params.get("PROLIFIC_PID"):
        platform = Participant.Platform.PROLIFIC
        worker = _clean_id(params, "PROLIFIC_PID")
        session = _clean_id(params, "SESSION_ID")
        study_ref = _clean_id(params, "STUDY_ID")
        submit_url = ""
    elif params.get("workerId"):
        platform = Participant.Platform.MTURK
        worker = _clean_id(params, "workerId")
        session = _clean_id(params, "assignmentId")
        if session == "ASSIGNMENT_ID_NOT_AVAILABLE":
            raise JourneyError("this is a preview: accept the HIT to take part")
        study_ref = _clean_id(params, "hitId") if (params.get("hitId") or "").strip() else ""
        submit_url = _mturk_submit_url(params.get("turkSubmitTo", ""))
    else:
        raise JourneyError("the link is missing your worker id (workerId or PROLIFIC_PID)")
    participant, created = Participant.objects.select_for_update().get_or_create(
        platform=platform,
        external_id_hash=hash_external_id(worker),
        defaults={"session_id_hash": hash_external_id(session), "study_ref": study_ref, "submit_url": submit_url},
    )
    return participant


def _mturk_submit_url(raw: str) -> str:
    parsed = urlparse(raw.strip())
    if parsed.scheme == "https" and parsed.hostname in MTURK_SUBMIT_HOSTS:
        return f"https://{parsed.hostname}/mturk/externalSubmit"
    return ""


def _locked(participant_id: int) -> Participant:
    return Participant.objects.select_for_update().get(pk=participant_id)


def _require_stage(participant: Participant, *stages: str) -> None:
    if participant.stage not in stages:
        raise JourneyError(f"this step is not available now (you are at: {participant.get_stage_display()})")


@transaction.atomic
def give_consent(participant_id: int) -> Participant:
    participant = _locked(participant_id)
    if participant.stage != Participant.Stage.CONSENT:
        return participant  # consenting twice (back button) is harmless
    participant.consented_at = timezone.now()
    participant.stage = Participant.Stage.INSTRUCTIONS
    participant.save()
    return participant


def active_game(participant_id: int) -> Interaction | None:
    return (
        Interaction.objects.filter(status=Interaction.Status.PLAYING)
        .filter(Q(speaker_id=participant_id) | Q(listener_id=participant_id))
        .first()
    )


@transaction.atomic
def start_practice(participant_id: int, *, rng: random.Random | None = None) -> Interaction:
    """A practice game as the speaker against the oracle listener, on a dev-split config."""
    participant = _locked(participant_id)
    _require_stage(participant, Participant.Stage.INSTRUCTIONS)
    current = active_game(participant_id)
    if current is not None:
        return current  # a second click (or tab) joins the same game
    configs = list(GameConfig.objects.filter(split="dev").values_list("pk", flat=True)[:500])
    if not configs:
        configs = list(GameConfig.objects.values_list("pk", flat=True)[:500])
    if not configs:
        raise JourneyError("no game configs are available yet")
    config = GameConfig.objects.get(pk=(rng or random).choice(configs))
    round_ = open_round()
    return play.start_game(
        config=config,
        speaker=participant,
        listener_kind="oracle",
        purpose=Interaction.Purpose.PRACTICE,
        settings=round_.settings if round_ else {},
    )


def open_round() -> Round | None:
    return Round.objects.filter(status=Round.Status.OPEN).order_by("-number").first()


@transaction.atomic
def enter_lobby(participant_id: int) -> Participant:
    participant = _locked(participant_id)
    if participant.stage == Participant.Stage.LOBBY:
        return participant
    _require_stage(participant, Participant.Stage.INSTRUCTIONS)
    if not participant.practiced:
        raise JourneyError("finish the practice game first")
    if open_round() is None:
        raise JourneyError("the study is not open right now; please come back later")
    participant.stage = Participant.Stage.LOBBY
    participant.lobby_entered_at = timezone.now()
    participant.save()
    return participant


@transaction.atomic
def poll_lobby(participant_id: int, *, rng: random.Random | None = None) -> LobbyStatus:
    """Where the participant stands in the lobby; matches them when possible, times them out."""
    participant = _locked(participant_id)
    game = active_game(participant_id)
    if game is not None:
        return LobbyStatus(state="matched", interaction_id=game.pk)
    if participant.stage != Participant.Stage.LOBBY:
        return LobbyStatus(state="timed_out" if participant.stage == Participant.Stage.DONE else "not_in_lobby")
    round_ = open_round()
    study = StudySettings.from_dict(round_.settings if round_ else {})
    now = timezone.now()
    waited = (now - participant.lobby_entered_at).total_seconds()
    if round_ is not None:
        game = _match(participant, round_, rng or random.Random())
        if game is not None:
            return LobbyStatus(state="matched", interaction_id=game.pk, waited_seconds=waited)
    if waited >= study.timing.lobby_timeout_seconds or round_ is None:
        _finish(participant, bonus=study.pay.lobby_timeout_pay, note="No partner was found in time; you are paid for waiting.")
        participant.waiting_for = None
        participant.lobby_left_at = now
        participant.save()
        return LobbyStatus(state="timed_out", waited_seconds=waited)
    return LobbyStatus(state="waiting", waited_seconds=waited, timeout_seconds=study.timing.lobby_timeout_seconds)


def _match(participant: Participant, round_: Round, rng: random.Random) -> Interaction | None:
    deployment = participant.waiting_for
    if deployment is None or deployment.round_id != round_.pk:
        deployment = _choose_deployment(round_, rng)
        if deployment is None:
            return None
    if deployment.system.listener_kind == "human":
        # Pairing is serialised per deployment; a partner whose own poll is in flight (row locked)
        # is skipped rather than waited for, so two polls can never deadlock on each other.
        Deployment.objects.select_for_update().get(pk=deployment.pk)
        partner = (
            Participant.objects.select_for_update(skip_locked=True)
            .filter(waiting_for=deployment, stage=Participant.Stage.LOBBY)
            .exclude(pk=participant.pk)
            .order_by("lobby_entered_at")
            .first()
        )
        if partner is None:
            participant.waiting_for = deployment
            participant.save()
            return None
        # The expert speaks; otherwise roles are drawn at random.
        if participant.expert != partner.expert:
            speaker, listener = (participant, partner) if participant.expert else (partner, participant)
        else:
            speaker, listener = rng.sample([participant, partner], 2)
        return _start_study_game(deployment, speaker, listener)
    return _start_study_game(deployment, participant, None)


def _choose_deployment(round_: Round, rng: random.Random) -> Deployment | None:
    """Balanced random assignment: among the deployments with the fewest games (and waiting
    humans) so far, pick one at random."""
    deployments = list(
        Deployment.objects.filter(round=round_)
        .select_related("system")
        .annotate(
            load=Count("interactions", distinct=True)
            + Count("waiting_participants", filter=Q(waiting_participants__stage="lobby"), distinct=True)
        )
    )
    if not deployments:
        return None
    least = min(d.load for d in deployments)
    return rng.choice(sorted((d for d in deployments if d.load == least), key=lambda d: d.pk))


def _start_study_game(deployment: Deployment, speaker: Participant, listener: Participant | None) -> Interaction:
    config = next_config(deployment.pk)
    now = timezone.now()
    for person in filter(None, (speaker, listener)):
        person.stage = Participant.Stage.GAME
        person.waiting_for = None
        person.lobby_left_at = now
        person.save()
    return play.start_game(
        config=config,
        speaker=speaker,
        listener=listener,
        listener_kind=deployment.system.listener_kind,
        deployment=deployment,
        checkpoint=deployment.checkpoint,
        purpose=Interaction.Purpose.STUDY,
        settings=deployment.round.settings,
    )


@transaction.atomic
def next_config(deployment_id: int) -> GameConfig:
    """The deployment's next config: its own seeded shuffle of the round's shared queue, so that
    concurrent systems see the same contexts. Wraps around when the queue is used up."""
    deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
    queue = list(RoundConfig.objects.filter(round_id=deployment.round_id).order_by("position").values_list(
        "config_id", flat=True))
    if not queue:
        raise JourneyError(f"round {deployment.round.number} has no configs in its queue")
    random.Random(deployment.queue_seed).shuffle(queue)
    config_id = queue[deployment.queue_cursor % len(queue)]
    deployment.queue_cursor += 1
    deployment.save(update_fields=["queue_cursor"])
    return GameConfig.objects.get(pk=config_id)


@transaction.atomic
def submit_survey(participant_id: int, answers: Mapping[str, str]) -> Participant:
    """Validate and store the exit survey (1-6 scales by role, optional comments); finish."""
    participant = _locked(participant_id)
    _require_stage(participant, Participant.Stage.SURVEY)
    role = study_role(participant_id)
    cleaned: dict[str, object] = {"role": role}
    errors = []
    for item in SURVEY_ITEMS[role]:
        raw = str(answers.get(item, "")).strip()
        if not raw.isdigit() or int(raw) not in SURVEY_SCALE:
            errors.append(item)
        else:
            cleaned[item] = int(raw)
    if errors:
        raise JourneyError(f"please answer every question on the 1-6 scale (missing: {', '.join(errors)})")
    comments = str(answers.get("comments", "")).strip()
    if len(comments) > MAX_COMMENT_CHARS:
        raise JourneyError(f"comments are limited to {MAX_COMMENT_CHARS} characters")
    if "\x00" in comments:  # PostgreSQL JSON cannot hold NUL: refuse it rather than fail the save
        raise JourneyError("the comments contain an invalid character")
    cleaned["comments"] = comments
    participant.survey = cleaned
    _finish(participant, bonus=Decimal("0"), note=participant.end_note)
    participant.save()
    return participant


def study_role(participant_id: int) -> str:
    """The role the participant played in their (last) study game; the survey depends on it."""
    game = (
        Interaction.objects.filter(purpose=Interaction.Purpose.STUDY)
        .filter(Q(speaker_id=participant_id) | Q(listener_id=participant_id))
        .order_by("-created_at")
        .first()
    )
    return (game.role_of(participant_id) if game else None) or "speaker"


def _finish(participant: Participant, *, bonus: Decimal, note: str) -> None:
    participant.bonus += bonus
    participant.stage = Participant.Stage.DONE
    participant.completed_at = timezone.now()
    participant.end_note = note
    if not participant.completion_code:
        participant.completion_code = secrets.token_hex(5).upper()
