"""The participant journey: entry link, consent, practice, lobby and matching, survey, pay.

consent -> instructions (practice game against the oracle) -> lobby -> game -> survey -> done

The participant's stage is server-side state; pages only show what the stage allows. External ids
are stored as keyed hashes, never raw.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import random
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlparse

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from games.domain.study_settings import StudySettings
from games.models import Deployment, GameConfig, Interaction, Participant, Round, RoundConfig
from games.services import play

log = logging.getLogger(__name__)

# What the browser session holds (set by the entry page): the participant, and the token proving that
# this browser is the one the participant is bound to.
SESSION_PARTICIPANT_KEY = "participant_id"
SESSION_BROWSER_KEY = "browser_token"
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


class EntryRefused(JourneyError):
    """An entry link that does not match the participant it names (another assignment/session id, or
    another browser while a game is in play); nothing was changed."""


class EntryThrottled(JourneyError):
    """Too many new participants from one client address; nothing was changed."""


@dataclass(frozen=True)
class Entry:
    participant: Participant
    browser_token: str  # keep it in the browser's session: it proves this browser holds the participant


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


def _same_hash(stored: str, value: str) -> bool:
    return bool(stored) and bool(value) and hmac.compare_digest(stored, hash_external_id(value))


def _clean_id(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip()
    if not value:
        raise JourneyError(f"the link is missing {name}")
    if len(value) > MAX_ID_CHARS or not _ID_PATTERN.match(value):
        raise JourneyError(f"the link has an invalid {name}")
    return value


def _parse_entry(params: Mapping[str, str]) -> tuple[str, str, str, str, str]:
    """(platform, worker id, assignment/session id, study ref, submit URL) of an entry link."""
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
    return platform, worker, session, study_ref, submit_url


@transaction.atomic
def enter(params: Mapping[str, str], *, browser_token: str = "", address: str = "") -> Entry:
    """Find or create the participant named by an MTurk or Prolific entry link, and bind them to this
    browser.

    A participant is bound to what only they hold: the assignment/session id of their first entry
    (a worker id alone is public knowledge) and, while one of their games is in play, the browser
    that holds them (``browser_token``, from its session). A link that does not match is refused
    (``EntryRefused``), changes nothing and is logged without the raw ids. ``address`` is the
    client's address: each address may create at most ``PARTICIPANT_ENTRY_LIMIT`` participants per
    ``PARTICIPANT_ENTRY_WINDOW_SECONDS`` (``EntryThrottled``); refused entries count too.
    """
    platform, worker, session, study_ref, submit_url = _parse_entry(params)
    worker_hash = hash_external_id(worker)
    participant = Participant.objects.select_for_update().filter(platform=platform, external_id_hash=worker_hash).first()
    if participant is None:
        _count_entry(address)
        try:
            with transaction.atomic():  # a concurrent first entry of the same worker may win the insert
                token = secrets.token_urlsafe(32)
                participant = Participant.objects.create(
                    platform=platform, external_id_hash=worker_hash, session_id_hash=hash_external_id(session),
                    browser_hash=hash_external_id(token), study_ref=study_ref, submit_url=submit_url,
                )
                return Entry(participant, token)
        except IntegrityError:
            participant = Participant.objects.select_for_update().get(platform=platform, external_id_hash=worker_hash)
    if not _same_hash(participant.session_id_hash, session):
        _count_entry(address)
        log.warning("entry refused: participant %s came back with another assignment/session id", participant.pk)
        raise EntryRefused(
            "this worker id is already taking part with another assignment or session. Please open the study "
            "from the task page of the assignment you started it with"
        )
    if _same_hash(participant.browser_hash, browser_token):
        return Entry(participant, browser_token)  # the same browser again (a reload of the link)
    if participant.browser_hash and active_game(participant.pk) is not None:
        _count_entry(address)
        log.warning("entry refused: participant %s has a game in play in another browser", participant.pk)
        raise EntryRefused(
            "your game is open in another browser or window. Please continue there; if you closed it, the game "
            "ends on its own within a minute and you can then come back through your link"
        )
    return Entry(participant, bind_browser(participant.pk))


def bind_browser(participant_id: int) -> str:
    """Bind the participant to a new browser: returns the token that browser keeps in its session.
    Sessions holding an older token no longer reach the participant's pages or games."""
    token = secrets.token_urlsafe(32)
    Participant.objects.filter(pk=participant_id).update(browser_hash=hash_external_id(token))
    return token


def holds_participant(participant: Participant, browser_token: str | None) -> bool:
    """Whether a browser session with this token holds the participant (see ``enter``). A participant
    who entered before browsers were bound (no browser hash yet) is held by the sessions that name
    them, until their next entry binds one."""
    if not participant.browser_hash:
        return True
    return _same_hash(participant.browser_hash, browser_token or "")


def is_own_session_id(participant: Participant, session_id: str) -> bool:
    """Whether a raw assignment/session id is the participant's own (the one they entered with)."""
    return _same_hash(participant.session_id_hash, session_id or "")


def session_participant(session) -> Participant | None:
    """The participant a browser session holds, or None (no session, none named, or superseded by a
    later entry in another browser)."""
    if session is None:
        return None
    participant_id = session.get(SESSION_PARTICIPANT_KEY)
    if not isinstance(participant_id, int):
        return None
    participant = Participant.objects.filter(pk=participant_id).first()
    if participant is None or not holds_participant(participant, session.get(SESSION_BROWSER_KEY)):
        return None
    return participant


def seat_of(session, interaction_id: int) -> tuple[int | None, str | None]:
    """(participant id, role) of the browser session in a game; role None when it holds no player of it."""
    participant = session_participant(session)
    if participant is None:
        return None, None
    interaction = Interaction.objects.filter(pk=interaction_id).first()
    return participant.pk, (interaction.role_of(participant.pk) if interaction else None)


def _count_entry(address: str) -> None:
    """Count an entry that creates a participant (or is refused) against the client's address."""
    limit = settings.PARTICIPANT_ENTRY_LIMIT
    if limit <= 0:
        return
    key = "entry:" + hash_external_id(f"address:{address or 'unknown'}")[:32]
    window = settings.PARTICIPANT_ENTRY_WINDOW_SECONDS
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        count = 1
    if count > limit:
        log.warning("entry throttled: too many new participants from one address (%d in %d s)", count, window)
        raise EntryThrottled("too many people have started the study from your network; please try again later")


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
        game = _match(participant, round_, rng or random.Random(), study=study, waited=waited, now=now)
        if game is not None:
            return LobbyStatus(state="matched", interaction_id=game.pk, waited_seconds=waited)
    if waited >= study.timing.lobby_timeout_seconds or round_ is None:
        _finish(participant, bonus=study.pay.lobby_timeout_pay, note="No partner was found in time; you are paid for waiting.")
        participant.waiting_for = None
        participant.lobby_left_at = now
        participant.save()
        return LobbyStatus(state="timed_out", waited_seconds=waited)
    return LobbyStatus(state="waiting", waited_seconds=waited, timeout_seconds=study.timing.lobby_timeout_seconds)


def _match(
    participant: Participant, round_: Round, rng: random.Random, *, study: StudySettings, waited: float, now
) -> Interaction | None:
    """Assign the participant to a deployment (once) and start their game when it can start.

    A human-human deployment is chosen first when someone waits in it (they are paired at once);
    otherwise assignment is balanced. A participant waiting there for a partner who has not come
    within ``partner_wait_seconds``, while no partner is likely to come soon, is given the
    least-loaded bot deployment instead (nobody waits out the lobby timeout alone)."""
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
            if waited >= study.timing.partner_wait_seconds and not _partner_likely(participant, study, now):
                bot = _choose_deployment(round_, rng, bots_only=True)
                if bot is not None:
                    return _start_study_game(bot, participant, None)
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


def _partner_likely(participant: Participant, study: StudySettings, now) -> bool:
    """Whether someone else may soon be paired with the participant: another participant in the lobby
    not yet assigned (their next poll pairs them), one playing the practice game now, or one who
    finished it within the partner wait (the next step is the lobby)."""
    others = Participant.objects.exclude(pk=participant.pk)
    recent = now - timedelta(seconds=study.timing.partner_wait_seconds)
    return (
        others.filter(stage=Participant.Stage.LOBBY, waiting_for__isnull=True,
                      lobby_entered_at__gte=now - timedelta(seconds=study.timing.lobby_timeout_seconds)).exists()
        or Interaction.objects.filter(purpose=Interaction.Purpose.PRACTICE, speaker__in=others.filter(
            stage=Participant.Stage.INSTRUCTIONS)).filter(
            Q(status=Interaction.Status.PLAYING) | Q(ended_at__gte=recent, speaker__practiced=True)).exists()
    )


def _choose_deployment(round_: Round, rng: random.Random, *, bots_only: bool = False) -> Deployment | None:
    """A human-human deployment where someone waits for a partner, if there is one (pairing them now
    keeps the wait short and the balance: the waiting person already counts in its load); otherwise
    balanced random assignment: among the deployments with the fewest games (and waiting humans) so
    far, pick one at random. ``bots_only``: among the bot deployments only."""
    deployments = list(
        Deployment.objects.filter(round=round_)
        .select_related("system")
        .annotate(
            waiting=Count("waiting_participants", filter=Q(waiting_participants__stage="lobby"), distinct=True),
            load=Count("interactions", distinct=True)
            + Count("waiting_participants", filter=Q(waiting_participants__stage="lobby"), distinct=True),
        )
    )
    if bots_only:
        deployments = [d for d in deployments if d.system.listener_kind != "human"]
    else:
        waiting = [d for d in deployments if d.system.listener_kind == "human" and d.waiting]
        if waiting:
            return rng.choice(sorted(waiting, key=lambda d: d.pk))
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
