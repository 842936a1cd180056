"""Participant pages: thin views over games.services.journey. The stage is server-side state;
each page redirects to wherever the participant's stage says they should be."""
from functools import wraps

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from games.domain.study_settings import StudySettings
from games.models import Interaction, Participant
from games.services import journey
from games.services.journey import SESSION_BROWSER_KEY, SESSION_PARTICIPANT_KEY

# MTurk's submit form needs the raw assignment id. It is kept in the participant's own browser (a
# cookie scoped to these pages), never on the server; the completion page shows it only if it hashes
# to the participant's stored assignment hash.
ASSIGNMENT_COOKIE = "mturk_assignment"


STAGE_PAGES = {
    Participant.Stage.CONSENT: "play:consent",
    Participant.Stage.INSTRUCTIONS: "play:instructions",
    Participant.Stage.LOBBY: "play:lobby",
    Participant.Stage.SURVEY: "play:survey",
    Participant.Stage.DONE: "play:done",
}


def stage_url(participant: Participant) -> str:
    game = journey.active_game(participant.pk)
    if game is not None:
        return reverse("play:game", args=[game.pk])
    if participant.stage == Participant.Stage.GAME:
        return reverse("play:survey")
    return reverse(STAGE_PAGES[participant.stage])


def _problem(request, message: str, status: int = 400):
    return render(request, "play/problem.html", {"message": message}, status=status)


def participant_page(*stages):
    """Load the session's participant; send them to their own stage if this page is not it."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            participant = journey.session_participant(request.session)
            if participant is None:
                if request.session.get(SESSION_PARTICIPANT_KEY) is not None:
                    return _problem(request, "The study was opened again in another browser or window; "
                                    "please continue there.", 403)
                return _problem(request, "Please open the study through the link on your task page.", 403)
            if stages and participant.stage not in stages:
                return redirect(stage_url(participant))
            return view(request, participant, *args, **kwargs)

        return wrapper

    return decorate


@require_GET
def entry(request):
    held = journey.session_participant(request.session)
    try:
        entry = journey.enter(
            request.GET,
            browser_token=request.session.get(SESSION_BROWSER_KEY, "") if held else "",
            address=request.META.get("REMOTE_ADDR", ""),
        )
    except journey.EntryThrottled as error:
        return _problem(request, f"We could not start the study: {error}.", 429)
    except journey.EntryRefused as error:
        return _problem(request, f"We could not start the study: {error}.", 403)
    except journey.JourneyError as error:
        return _problem(request, f"We could not start the study: {error}.")
    participant = entry.participant
    if held is None or held.pk != participant.pk:
        request.session.cycle_key()  # a fresh session id for a fresh entry (no session fixation)
    request.session[SESSION_PARTICIPANT_KEY] = participant.pk
    request.session[SESSION_BROWSER_KEY] = entry.browser_token
    response = redirect(stage_url(participant))
    if participant.submit_url:
        response.set_cookie(
            ASSIGNMENT_COOKIE, request.GET.get("assignmentId", "").strip(), max_age=7 * 24 * 3600, path="/play/",
            secure=request.is_secure(), httponly=True, samesite="Lax",
        )
    return response


@require_http_methods(["GET", "POST"])
@participant_page(Participant.Stage.CONSENT)
def consent(request, participant):
    if request.method == "POST":
        journey.give_consent(participant.pk)
        return redirect("play:instructions")
    return render(request, "play/consent.html", {"pay": _pay()})


@require_GET
@participant_page(Participant.Stage.INSTRUCTIONS)
def instructions(request, participant):
    return render(request, "play/instructions.html", {"participant": participant, "error": request.GET.get("error")})


@require_POST
@participant_page(Participant.Stage.INSTRUCTIONS)
def practice(request, participant):
    try:
        game = journey.start_practice(participant.pk)
    except journey.JourneyError as error:
        return _problem(request, str(error), 409)
    return redirect("play:game", game.pk)


@require_POST
@participant_page(Participant.Stage.INSTRUCTIONS, Participant.Stage.LOBBY)
def lobby_enter(request, participant):
    try:
        journey.enter_lobby(participant.pk)
    except journey.JourneyError as error:
        return render(request, "play/instructions.html", {"participant": participant, "error": str(error)}, status=409)
    return redirect("play:lobby")


@require_GET
@participant_page(Participant.Stage.LOBBY)
def lobby(request, participant):
    return render(request, "play/lobby.html", {"timeout": _pay_settings().timing.lobby_timeout_seconds})


@require_GET
@participant_page()
def lobby_status(request, participant):
    status = journey.poll_lobby(participant.pk)
    next_url = None
    if status.state == "matched":
        next_url = reverse("play:game", args=[status.interaction_id])
    elif status.state != "waiting":
        next_url = stage_url(Participant.objects.get(pk=participant.pk))
    return JsonResponse({
        "state": status.state,
        "waited_seconds": round(status.waited_seconds, 1),
        "timeout_seconds": status.timeout_seconds,
        "next_url": next_url,
    })


@require_GET
@participant_page()
def game(request, participant, interaction_id: int):
    interaction = Interaction.objects.filter(pk=interaction_id).first()
    role = interaction.role_of(participant.pk) if interaction else None
    if role is None:
        return _problem(request, "This game is not yours.", 403)
    return render(request, "play/game.html", {
        "interaction": interaction,
        "role": role,
        "socket_path": f"/ws/play/{interaction.pk}/",
    })


@require_http_methods(["GET", "POST"])
@participant_page(Participant.Stage.SURVEY)
def survey(request, participant):
    role = journey.study_role(participant.pk)
    error = None
    if request.method == "POST":
        try:
            journey.submit_survey(participant.pk, request.POST)
            return redirect("play:done")
        except journey.JourneyError as exc:
            error = str(exc)
    return render(request, "play/survey.html", {
        "role": role, "items": _survey_items(role), "error": error, "answers": request.POST,
        "note": participant.end_note,
    }, status=400 if error else 200)


@require_GET
@participant_page(Participant.Stage.DONE)
def done(request, participant):
    assignment_id = request.COOKIES.get(ASSIGNMENT_COOKIE, "")
    if not journey.is_own_session_id(participant, assignment_id):
        assignment_id = ""
    return render(request, "play/done.html", {"participant": participant, "assignment_id": assignment_id})


SURVEY_QUESTIONS = {
    "satisfied": "How satisfied are you with your partner's performance in the game?",
    "comprehension": "How well did your partner understand your descriptions?",
    "grammatical": "How grammatical were your partner's descriptions?",
    "clear": "How easy was it to understand your partner's descriptions?",
    "ambiguous": "How easily could you tell the targets apart from the other images based on your partner's descriptions?",
}


def _survey_items(role: str) -> list[tuple[str, str]]:
    return [(name, SURVEY_QUESTIONS[name]) for name in journey.SURVEY_ITEMS[role]]


def _pay_settings() -> StudySettings:
    current = journey.open_round()
    return StudySettings.from_dict(current.settings if current else {})


def _pay() -> dict:
    pay = _pay_settings().pay
    return {"per_hour": f"{pay.per_minute * 60:.2f}", "success_bonus": f"{pay.success_bonus:.2f}"}
