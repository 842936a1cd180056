"""The participant journey: entry link, consent, practice, lobby and matching, pay, survey."""
import io
import json
import logging
import random
import re
import uuid
from collections import Counter
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from games.models import Deployment, GameConfig, Interaction, Participant, RoundConfig
from games.services import journey, play
from games.services.journey import JourneyError
from games.services.rounds import create_system, launch_round
from respect_site.log_filters import RedactParticipantIds
from tests.games.play_support import (
    NO_DELAY,
    fresh,
    person,
    start,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _setup(settings, game_library, notifications):
    settings.BOT_DISPATCH = "inline"


def open_study(*kinds, settings=None, queue_size=5):
    """Open a round deploying one system per listener kind (named after it)."""
    names = []
    for i, kind in enumerate(kinds):
        name = f"{kind.upper()}-{i}"
        create_system(name, listener_kind=kind)
        names.append(name)
    settings = dict(settings or {})
    settings["timing"] = {**NO_DELAY["timing"], **settings.get("timing", {})}
    return launch_round(systems=[(n, None) for n in names], queue_size=queue_size, split="train", settings=settings)


def in_lobby(**fields) -> Participant:
    participant = person(stage=Participant.Stage.INSTRUCTIONS, practiced=True, **fields)
    journey.enter_lobby(participant.pk)
    return fresh_person(participant)


def fresh_person(participant) -> Participant:
    return Participant.objects.get(pk=participant.pk)


def speak_to_the_bot(game, capture):
    with capture(execute=True):
        play.submit_utterance(game.pk, game.speaker_id, game.turn_count, "the one like a boat")
    return fresh(game)


# --- entry link ------------------------------------------------------------------------------------------

MTURK = {
    "workerId": "A1WORKER77RAW", "assignmentId": "3ASSIGN99RAW", "hitId": "HIT-1",
    "turkSubmitTo": "https://workersandbox.mturk.com",
}
PROLIFIC = {"PROLIFIC_PID": "5f0cPROLIFICRAW", "STUDY_ID": "study-9", "SESSION_ID": "sess-RAW-42"}


def stored_text(participant: Participant) -> str:
    return " ".join(str(getattr(participant, f.attname)) for f in Participant._meta.fields)


@pytest.mark.parametrize("params, platform, raw_ids, study_ref", [
    (MTURK, "mturk", ("A1WORKER77RAW", "3ASSIGN99RAW"), "HIT-1"),
    (PROLIFIC, "prolific", ("5f0cPROLIFICRAW", "sess-RAW-42"), "study-9"),
])
def test_entry_link_creates_a_participant_with_only_hashed_ids(params, platform, raw_ids, study_ref):
    participant = journey.enter(params).participant
    assert (participant.platform, participant.stage, participant.study_ref) == (platform, "consent", study_ref)
    assert participant.external_id_hash == journey.hash_external_id(raw_ids[0])
    assert participant.session_id_hash == journey.hash_external_id(raw_ids[1])
    assert re.fullmatch(r"[0-9a-f]{64}", participant.external_id_hash)
    text = stored_text(Participant.objects.get(pk=participant.pk))
    for raw in raw_ids:
        assert raw not in text and raw.lower() not in text.lower()
    # Entering again finds the same person.
    assert journey.enter(params).participant.pk == participant.pk and Participant.objects.count() == 1


def test_the_same_worker_id_on_two_platforms_is_two_people():
    a = journey.enter({"workerId": "SAME1", "assignmentId": "X1"}).participant
    b = journey.enter({"PROLIFIC_PID": "SAME1", "STUDY_ID": "s", "SESSION_ID": "x"}).participant
    assert a.pk != b.pk and a.external_id_hash == b.external_id_hash


@pytest.mark.parametrize("submit_to, stored", [
    ("https://www.mturk.com", "https://www.mturk.com/mturk/externalSubmit"),
    ("https://workersandbox.mturk.com/", "https://workersandbox.mturk.com/mturk/externalSubmit"),
    ("http://www.mturk.com", ""),
    ("https://evil.example/www.mturk.com", ""),
    ("javascript:alert(1)", ""),
    ("", ""),
])
def test_mturk_submit_url_only_for_mturk_hosts(submit_to, stored):
    assert journey.enter({**MTURK, "turkSubmitTo": submit_to}).participant.submit_url == stored


@pytest.mark.parametrize("params, message", [
    ({}, "missing your worker id"),
    ({"workerId": "", "assignmentId": "A1"}, "missing your worker id"),
    ({"workerId": "W1"}, "missing assignmentId"),
    ({"workerId": "W1", "assignmentId": "   "}, "missing assignmentId"),
    ({"workerId": "W1", "assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE"}, "preview"),
    ({"workerId": "W 1", "assignmentId": "A1"}, "invalid workerId"),
    ({"workerId": "<script>", "assignmentId": "A1"}, "invalid workerId"),
    ({"workerId": "W1", "assignmentId": "A1'; DROP TABLE"}, "invalid assignmentId"),
    ({"workerId": "wörker", "assignmentId": "A1"}, "invalid workerId"),
    ({"workerId": "W" * 129, "assignmentId": "A1"}, "invalid workerId"),
    ({"workerId": "W1", "assignmentId": "A1", "hitId": "H\x00"}, "invalid hitId"),
    ({"workerId": "W1", "assignmentId": "A1", "hitId": "<b>hit</b>"}, "invalid hitId"),
    ({"workerId": "W1", "assignmentId": "A1", "hitId": "H" * 129}, "invalid hitId"),
    ({"workerId": "W\x00", "assignmentId": "A1"}, "invalid workerId"),
    ({"PROLIFIC_PID": "P1", "STUDY_ID": "S1"}, "missing SESSION_ID"),
    ({"PROLIFIC_PID": "P1", "SESSION_ID": "X1"}, "missing STUDY_ID"),
    ({"PROLIFIC_PID": "P/1", "STUDY_ID": "S1", "SESSION_ID": "X1"}, "invalid PROLIFIC_PID"),
])
def test_bad_entry_links_are_refused_and_create_nothing(params, message):
    with pytest.raises(JourneyError, match=message):
        journey.enter(params)
    assert Participant.objects.count() == 0


def test_a_128_character_id_is_accepted_and_the_hit_id_is_optional():
    assert journey.enter({"workerId": "W" * 128, "assignmentId": "A1"}).participant.study_ref == ""


def test_the_entry_page_starts_a_session_and_sends_a_finished_worker_to_done(client):
    url = reverse("play:entry") + "?workerId=W9&assignmentId=A9&hitId=H9"
    response = client.get(url)
    assert response.status_code == 302 and response.url == reverse("play:consent")
    participant = Participant.objects.get()
    assert client.session["participant_id"] == participant.pk
    Participant.objects.filter(pk=participant.pk).update(stage="done", completion_code="ABCDE12345")
    client.cookies.clear()
    response = client.get(url)
    assert response.status_code == 302 and response.url == reverse("play:done")
    assert Participant.objects.count() == 1
    assert "ABCDE12345" in client.get(reverse("play:done")).content.decode()
    bad = client.get(reverse("play:entry") + "?workerId=W9&assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE")
    assert bad.status_code == 400


def entry_url(params) -> str:
    return reverse("play:entry") + "?" + urlencode(params)


def as_done(participant_id, code="SECRET1234"):
    Participant.objects.filter(pk=participant_id).update(stage="done", completion_code=code, bonus=Decimal("1.23"))


@pytest.mark.parametrize("params, session_key", [(MTURK, "assignmentId"), (PROLIFIC, "SESSION_ID")])
def test_a_worker_id_with_another_assignment_or_session_id_is_refused_and_changes_nothing(params, session_key, caplog):
    victim = Client()
    assert victim.get(entry_url(params)).status_code == 302
    participant = Participant.objects.get()
    as_done(participant.pk)
    before = Participant.objects.filter(pk=participant.pk).values().get()
    attacker = Client()
    with caplog.at_level(logging.WARNING):
        response = attacker.get(entry_url({**params, session_key: "ANYTHING"}))
    page = response.content.decode()
    assert response.status_code == 403 and "another assignment or session" in page
    assert "SECRET1234" not in page and "1.23" not in page
    done = attacker.get(reverse("play:done"))
    assert done.status_code == 403 and "SECRET1234" not in done.content.decode()
    assert Participant.objects.filter(pk=participant.pk).values().get() == before
    assert "participant_id" not in attacker.session
    # Logged, without the raw ids.
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert f"participant {participant.pk}" in logged and "entry refused" in logged
    for raw in (*params.values(), "ANYTHING"):
        if len(raw) > 4:
            assert raw not in logged
    # The worker, with their own assignment, still gets their code.
    assert "SECRET1234" in victim.get(reverse("play:done")).content.decode()
    assert "SECRET1234" in Client().get(entry_url(params), follow=True).content.decode()


def test_while_a_game_is_in_play_only_the_browser_that_holds_it_may_enter_again():
    first = Client()
    first.get(entry_url(MTURK))
    participant = Participant.objects.get()
    game = start("oracle", speaker=participant)
    game_url = reverse("play:game", args=[game.pk])
    other = Client()
    response = other.get(entry_url(MTURK))  # the right ids, but another browser: no taking the seat over
    assert response.status_code == 403 and "open in another browser" in response.content.decode()
    assert other.get(game_url).status_code == 403
    assert Participant.objects.get(pk=participant.pk).browser_hash == participant.browser_hash
    assert first.get(game_url).status_code == 200  # the player's own tab is untouched
    response = first.get(entry_url(MTURK))  # the player's own browser reloading the link
    assert response.status_code == 302 and response.url == game_url
    play.cancel_game(game.pk)
    # Between games the participant may move to another browser; the old one then holds nothing.
    assert other.get(entry_url(MTURK)).status_code == 302
    stale = first.get(reverse("play:survey"))
    assert stale.status_code == 403 and "another browser" in stale.content.decode()
    assert other.get(reverse("play:survey")).status_code == 200


def test_a_participant_who_entered_before_browsers_were_bound_is_bound_at_the_next_entry():
    first = Client()
    first.get(entry_url(MTURK))
    participant = Participant.objects.get()
    Participant.objects.filter(pk=participant.pk).update(browser_hash="")  # a row from before the binding
    session = first.session
    del session["browser_token"]
    session.save()
    assert first.get(reverse("play:consent")).status_code == 200  # their old session still holds them
    start("oracle", speaker=participant)
    other = Client()
    assert other.get(entry_url(MTURK)).status_code == 302  # the right ids: this browser is bound now
    assert Participant.objects.get(pk=participant.pk).browser_hash
    assert first.get(reverse("play:consent")).status_code == 403
    assert Client().get(entry_url(MTURK)).status_code == 403  # and from now on, held like anyone's


def test_no_raw_id_is_kept_on_the_server_yet_the_mturk_submit_form_gets_the_assignment(client):
    client.get(entry_url(MTURK))
    participant = Participant.objects.get()
    stored = " ".join(json.dumps(s.get_decoded()) + s.session_data for s in Session.objects.all())
    assert stored and not any(raw in stored for raw in ("A1WORKER77RAW", "3ASSIGN99RAW"))
    as_done(participant.pk)
    page = client.get(reverse("play:done")).content.decode()
    assert 'name="assignmentId" value="3ASSIGN99RAW"' in page  # from the browser's own cookie
    client.cookies["mturk_assignment"] = "FORGED99"  # not the participant's assignment: not shown
    page = client.get(reverse("play:done")).content.decode()
    assert "FORGED99" not in page and 'name="assignmentId"' not in page and "SECRET1234" in page


def test_logged_request_lines_carry_no_worker_or_assignment_ids():
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactParticipantIds) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:  # what Daphne's runserver logs for a refused entry link
        logging.getLogger("django.channels.server").warning(
            "HTTP %(method)s %(path)s %(status)s [%(time_taken).2f, %(client)s]",
            {"method": "GET", "path": "/play/?workerId=A1WORKER77RAW&assignmentId=3ASSIGN99RAW&hitId=HIT-1",
             "status": 403, "time_taken": 0.01, "client": "127.0.0.1:5000"},
        )
        logging.getLogger("django.request").warning("Forbidden: /play/?PROLIFIC_PID=5f0cPROLIFICRAW&SESSION_ID=sess-RAW-42")
    finally:
        handler.setStream(previous)
    text = stream.getvalue()
    assert "/play/?workerId=[redacted]&assignmentId=[redacted]&hitId=[redacted] 403" in text
    assert "PROLIFIC_PID=[redacted]&SESSION_ID=[redacted]" in text and "RAW" not in text


def test_new_participants_per_client_address_are_throttled(settings):
    settings.PARTICIPANT_ENTRY_LIMIT = 3
    address, elsewhere = f"test-{uuid.uuid4().hex}", f"test-{uuid.uuid4().hex}"
    for i in range(3):
        assert Client().get(entry_url({"workerId": f"NEW{i}", "assignmentId": f"A{i}"}), REMOTE_ADDR=address).status_code == 302
    response = Client().get(entry_url({"workerId": "NEW3", "assignmentId": "A3"}), REMOTE_ADDR=address)
    assert response.status_code == 429 and "try again later" in response.content.decode()
    assert Participant.objects.count() == 3
    # Returning participants are not throttled; other addresses have their own allowance.
    assert Client().get(entry_url({"workerId": "NEW0", "assignmentId": "A0"}), REMOTE_ADDR=address).status_code == 302
    assert Client().get(entry_url({"workerId": "NEW3", "assignmentId": "A3"}), REMOTE_ADDR=elsewhere).status_code == 302
    with pytest.raises(journey.EntryThrottled):
        journey.enter({"workerId": "NEW4", "assignmentId": "A4"}, address=address)
    assert Participant.objects.count() == 4


# --- consent and practice --------------------------------------------------------------------------------


def test_consent_moves_on_once():
    participant = person()
    journey.give_consent(participant.pk)
    first = fresh_person(participant)
    assert first.stage == "instructions" and first.consented_at
    journey.give_consent(participant.pk)  # the back button
    assert fresh_person(participant).consented_at == first.consented_at


def test_practice_needs_consent():
    participant = person()
    with pytest.raises(JourneyError):
        journey.start_practice(participant.pk)
    assert not Interaction.objects.exists()


def test_practice_is_an_oracle_game_on_a_dev_config_and_success_marks_practiced(django_capture_on_commit_callbacks):
    open_study("oracle")  # the round's timing (no display delay) applies to practice too
    participant = person(stage=Participant.Stage.INSTRUCTIONS)
    game = journey.start_practice(participant.pk, rng=random.Random(3))
    assert (game.purpose, game.listener_kind, game.speaker_id, game.listener_id) == (
        "practice", "oracle", participant.pk, None
    )
    assert game.config.split == "dev" and game.deployment_id is None
    # A second click (or tab) joins the same game rather than starting another.
    assert journey.start_practice(participant.pk).pk == game.pk and Interaction.objects.count() == 1
    assert not fresh_person(participant).practiced
    game = speak_to_the_bot(game, django_capture_on_commit_callbacks)
    assert game.end_reason == "success"
    participant = fresh_person(participant)
    assert participant.practiced and participant.stage == "instructions" and participant.bonus == 0


def test_a_failed_practice_does_not_count(clock):
    participant = person(stage=Participant.Stage.INSTRUCTIONS)
    game = journey.start_practice(participant.pk)
    play.enforce_deadline(game.pk, now=clock.advance(60))
    assert fresh(game).end_reason == "speaker_idle"
    assert not fresh_person(participant).practiced and fresh_person(participant).stage == "instructions"


def test_practice_uses_the_open_round_timing():
    open_study("oracle", settings={"timing": {"speaker_seconds": 12}})
    game = journey.start_practice(person(stage=Participant.Stage.INSTRUCTIONS).pk)
    assert game.settings["timing"]["speaker_seconds"] == 12.0


# --- lobby and matching ------------------------------------------------------------------------------------


def test_the_lobby_needs_a_finished_practice_and_an_open_round():
    participant = person(stage=Participant.Stage.INSTRUCTIONS)
    with pytest.raises(JourneyError, match="practice"):
        journey.enter_lobby(participant.pk)
    Participant.objects.filter(pk=participant.pk).update(practiced=True)
    with pytest.raises(JourneyError, match="not open"):
        journey.enter_lobby(participant.pk)
    assert fresh_person(participant).stage == "instructions" and fresh_person(participant).lobby_entered_at is None
    open_study("oracle")
    journey.enter_lobby(participant.pk)
    assert fresh_person(participant).stage == "lobby"
    with pytest.raises(JourneyError):
        journey.enter_lobby(person().pk)  # still at consent


def test_assignment_is_balanced_and_random_and_each_deployment_walks_its_own_shuffle():
    study = open_study("oracle", "random", "oracle")
    deployments = list(Deployment.objects.filter(round=study).order_by("pk"))
    assigned = []
    for i in range(30):
        status = journey.poll_lobby(in_lobby().pk, rng=random.Random(i))
        assert status.state == "matched"
        game = Interaction.objects.get(pk=status.interaction_id)
        assert game.purpose == "study" and game.settings == study.settings
        assigned.append(game.deployment_id)
        counts = Counter(assigned)
        loads = [counts[d.pk] for d in deployments]
        assert max(loads) - min(loads) <= 1
    assert Counter(assigned) == {d.pk: 10 for d in deployments}
    blocks = {tuple(assigned[i:i + 3]) for i in range(0, 30, 3)}
    assert len(blocks) > 1  # not a fixed rotation
    queue = set(RoundConfig.objects.filter(round=study).values_list("config_id", flat=True))
    assert len(queue) == 5
    orders = []
    for deployment in deployments:
        configs = list(deployment.interactions.order_by("pk").values_list("config_id", flat=True))
        assert set(configs[:5]) == queue  # a whole cycle of the shared queue ...
        assert configs[5:] == configs[:5]  # ... then the same shuffle again
        assert Deployment.objects.get(pk=deployment.pk).queue_cursor == 10
        orders.append(tuple(configs[:5]))
    assert len(set(orders)) > 1  # in their own orders
    kinds = Counter(g.listener_kind for g in Interaction.objects.all())
    assert kinds == {"oracle": 20, "random": 10}
    for game in Interaction.objects.select_related("speaker"):
        assert game.speaker.stage == "game" and game.speaker.lobby_left_at and game.listener_id is None


def test_next_config_wraps_around_the_queue():
    study = open_study("oracle", queue_size=3)
    deployment = study.deployments.get()
    picks = [journey.next_config(deployment.pk).pk for _ in range(7)]
    assert len(set(picks[:3])) == 3 and picks[3:6] == picks[:3] and picks[6] == picks[0]
    assert set(picks) <= set(GameConfig.objects.filter(split="train").values_list("pk", flat=True))


@pytest.mark.parametrize("expert", ["first", "second"])
def test_two_people_in_a_human_human_deployment_are_paired_and_the_expert_speaks(expert):
    open_study("human")
    first = in_lobby(expert=expert == "first")
    assert journey.poll_lobby(first.pk).state == "waiting"
    assert fresh_person(first).waiting_for.system.listener_kind == "human"
    second = in_lobby(expert=expert == "second")
    status = journey.poll_lobby(second.pk)
    assert status.state == "matched"
    game = Interaction.objects.get(pk=status.interaction_id)
    assert journey.poll_lobby(first.pk) == journey.LobbyStatus(state="matched", interaction_id=game.pk)
    speaker = first if expert == "first" else second
    listener = second if expert == "first" else first
    assert (game.speaker_id, game.listener_id, game.listener_kind) == (speaker.pk, listener.pk, "human")
    for who in (first, second):
        who = fresh_person(who)
        assert who.stage == "game" and who.waiting_for is None
    assert Interaction.objects.count() == 1


def test_two_novices_are_paired_with_roles_drawn_at_random():
    open_study("human")
    speakers = Counter()
    for seed in range(6):
        a, b = in_lobby(), in_lobby()
        journey.poll_lobby(a.pk)
        game = Interaction.objects.get(pk=journey.poll_lobby(b.pk, rng=random.Random(seed)).interaction_id)
        assert {game.speaker_id, game.listener_id} == {a.pk, b.pk}
        speakers["first" if game.speaker_id == a.pk else "second"] += 1
    assert set(speakers) == {"first", "second"}


class PickHuman(random.Random):
    """Balanced assignment that, among equally loaded deployments, draws the human-human one."""

    def choice(self, seq):
        return next((d for d in seq if getattr(getattr(d, "system", None), "listener_kind", "") == "human"), seq[0])


def test_a_lone_newcomer_in_the_human_human_deployment_gets_a_bot_after_the_partner_wait(clock):
    study = open_study("oracle", "random", "human", settings={"timing": {"partner_wait_seconds": 30}})
    busy = in_lobby()  # the oracle deployment already had a game: random and human are the least loaded
    oracle = Deployment.objects.get(round=study, system__listener_kind="oracle")
    journey._start_study_game(oracle, busy, None)
    alone = in_lobby()
    assert journey.poll_lobby(alone.pk, rng=PickHuman()).state == "waiting"
    assert fresh_person(alone).waiting_for.system.listener_kind == "human"
    clock.advance(29)
    assert journey.poll_lobby(alone.pk, rng=PickHuman()).state == "waiting"
    clock.advance(1)  # nobody came, and nobody is about to: a bot game, not 4 minutes alone
    status = journey.poll_lobby(alone.pk, rng=PickHuman())
    assert status.state == "matched"
    game = Interaction.objects.get(pk=status.interaction_id)
    assert game.listener_kind == "random" and game.speaker_id == alone.pk  # the least-loaded bot deployment
    assert fresh_person(alone).waiting_for is None and fresh_person(alone).stage == "game"


def test_someone_waiting_for_a_partner_is_paired_with_the_next_newcomer(clock):
    study = open_study("oracle", "human", settings={"timing": {"partner_wait_seconds": 30}})
    waiting = in_lobby()
    assert journey.poll_lobby(waiting.pk, rng=PickHuman()).state == "waiting"
    clock.advance(10)
    # Balance alone would send the newcomer to the oracle (the waiting person loads the human deployment).
    newcomer = in_lobby()
    status = journey.poll_lobby(newcomer.pk, rng=random.Random(0))
    game = Interaction.objects.get(pk=status.interaction_id)
    assert (status.state, game.listener_kind, {game.speaker_id, game.listener_id}) == (
        "matched", "human", {waiting.pk, newcomer.pk})
    assert Interaction.objects.filter(deployment__round=study).count() == 1


def test_while_a_partner_is_likely_to_come_the_wait_goes_on(clock):
    open_study("oracle", "human", settings={"timing": {"partner_wait_seconds": 30}})
    waiting = in_lobby()
    assert journey.poll_lobby(waiting.pk, rng=PickHuman()).state == "waiting"
    practising = person(stage=Participant.Stage.INSTRUCTIONS)
    practice = journey.start_practice(practising.pk)
    clock.advance(31)
    assert journey.poll_lobby(waiting.pk, rng=PickHuman()).state == "waiting"  # someone is practising
    play.cancel_game(practice.pk)
    Participant.objects.filter(pk=practising.pk).update(practiced=True)
    clock.advance(20)
    assert journey.poll_lobby(waiting.pk, rng=PickHuman()).state == "waiting"  # ... just finished practising
    journey.enter_lobby(practising.pk)
    assert journey.poll_lobby(waiting.pk, rng=PickHuman()).state == "waiting"  # ... is in the lobby
    status = journey.poll_lobby(practising.pk)
    game = Interaction.objects.get(pk=status.interaction_id)
    assert game.listener_kind == "human" and {game.speaker_id, game.listener_id} == {waiting.pk, practising.pk}


def test_a_negative_partner_wait_is_refused():
    from games.domain.study_settings import SettingsError, StudySettings

    with pytest.raises(SettingsError, match="partner_wait_seconds"):
        StudySettings.from_dict({"timing": {"partner_wait_seconds": -1}})


def test_lobby_timeout_pays_the_flat_rate_and_gives_a_completion_code(clock):
    open_study("human", settings={"timing": {"lobby_timeout_seconds": 60}})
    alone = in_lobby()
    clock.advance(59)
    assert journey.poll_lobby(alone.pk).state == "waiting"
    clock.advance(1)
    status = journey.poll_lobby(alone.pk)
    assert status.state == "timed_out" and status.waited_seconds == 60
    alone = fresh_person(alone)
    assert alone.stage == "done" and alone.bonus == Decimal("0.60")
    assert re.fullmatch(r"[0-9A-F]{10}", alone.completion_code) and alone.completed_at
    assert alone.waiting_for is None and "partner" in alone.end_note
    assert not Interaction.objects.exists()
    # Polling again changes nothing (and pays nothing more).
    assert journey.poll_lobby(alone.pk).state == "timed_out"
    assert fresh_person(alone).bonus == Decimal("0.60")


def test_a_participant_cannot_play_two_games_at_once(django_capture_on_commit_callbacks):
    open_study("oracle")
    participant = person(stage=Participant.Stage.INSTRUCTIONS, practiced=True)
    practice = journey.start_practice(participant.pk)
    journey.enter_lobby(participant.pk)
    status = journey.poll_lobby(participant.pk)
    assert (status.state, status.interaction_id) == ("matched", practice.pk)
    assert Interaction.objects.count() == 1
    speak_to_the_bot(practice, django_capture_on_commit_callbacks)  # practice over: now a study game
    study = journey.poll_lobby(participant.pk)
    assert study.state == "matched" and study.interaction_id != practice.pk
    assert journey.poll_lobby(participant.pk).interaction_id == study.interaction_id
    assert Interaction.objects.filter(purpose="study").count() == 1


def test_a_closed_study_sends_the_lobby_home_with_the_flat_pay():
    study = open_study("human")
    waiting = in_lobby()
    from games.services.lifecycle import transition_round

    transition_round(study.pk, "closed")
    assert journey.poll_lobby(waiting.pk).state == "timed_out"
    assert fresh_person(waiting).stage == "done" and fresh_person(waiting).bonus == Decimal("0.60")


# --- pay ---------------------------------------------------------------------------------------------------


SLOW_SPEAKER = {"timing": {"speaker_seconds": 120}}


def play_study_game(clock, capture, *, expert=False, lobby=30, game_seconds=60):
    participant = in_lobby(expert=expert)
    clock.advance(lobby)
    game = Interaction.objects.get(pk=journey.poll_lobby(participant.pk).interaction_id)
    clock.advance(game_seconds)
    speak_to_the_bot(game, capture)
    return fresh_person(participant), fresh(game)


@pytest.mark.parametrize("expert, bonus", [(False, "0.67"), (True, "0.74")])
def test_game_pay_is_time_times_rate_plus_success_bonus_times_the_multiplier(
    clock, django_capture_on_commit_callbacks, expert, bonus
):
    # 1 min of play and 0.5 min in the lobby at $0.16/min, plus $0.50: $0.74; novices x 0.9.
    open_study("oracle", settings=SLOW_SPEAKER)
    participant, game = play_study_game(clock, django_capture_on_commit_callbacks, expert=expert)
    assert game.end_reason == "success"
    assert participant.bonus == Decimal(bonus) and participant.stage == "survey" and participant.end_note == ""


def test_an_idle_ending_still_pays_the_time(clock):
    open_study("oracle")
    participant = in_lobby()
    clock.advance(30)
    game = Interaction.objects.get(pk=journey.poll_lobby(participant.pk).interaction_id)
    assert play.enforce_deadline(game.pk, now=clock.advance(32)) == "speaker_idle"
    participant = fresh_person(participant)
    # (32 s of play + 30 s of lobby) at $0.16/min, no success bonus, x 0.9 = 0.1488
    assert participant.bonus == Decimal("0.15") and participant.stage == "survey"
    assert "stopped responding" in participant.end_note


def test_both_players_of_a_human_game_are_paid(clock):
    open_study("human")
    speaker = in_lobby(expert=True)
    journey.poll_lobby(speaker.pk)
    clock.advance(60)
    listener = in_lobby()
    game = Interaction.objects.get(pk=journey.poll_lobby(listener.pk).interaction_id)
    play.submit_utterance(game.pk, speaker.pk, 0, "hello")
    assert play.enforce_deadline(game.pk, now=clock.advance(32)) == "listener_idle"
    # The speaker waited 60 s in the lobby, the listener found them there; both played 32 s.
    assert fresh_person(speaker).bonus == Decimal("0.25")  # (32 + 60) / 60 * 0.16 = 0.2453
    assert fresh_person(listener).bonus == Decimal("0.08")  # 32 / 60 * 0.16 * 0.9 = 0.0768
    assert {fresh_person(p).stage for p in (speaker, listener)} == {"survey"}


# --- survey --------------------------------------------------------------------------------------------------

SPEAKER_ANSWERS = {"satisfied": "5", "comprehension": "6"}
LISTENER_ANSWERS = {"satisfied": "1", "grammatical": "2", "clear": "3", "ambiguous": "4"}


@pytest.fixture
def at_survey(clock, django_capture_on_commit_callbacks):
    open_study("oracle", settings=SLOW_SPEAKER)
    participant, _ = play_study_game(clock, django_capture_on_commit_callbacks)
    return participant


@pytest.mark.parametrize("answers", [
    {},
    {"satisfied": "5"},
    {**SPEAKER_ANSWERS, "comprehension": "7"},
    {**SPEAKER_ANSWERS, "comprehension": "0"},
    {**SPEAKER_ANSWERS, "comprehension": "-1"},
    {**SPEAKER_ANSWERS, "comprehension": "3.5"},
    {**SPEAKER_ANSWERS, "comprehension": "three"},
    {**SPEAKER_ANSWERS, "comprehension": ""},
    {**SPEAKER_ANSWERS, "comments": "x" * 2001},
    {**SPEAKER_ANSWERS, "comments": "nul \x00 inside"},  # PostgreSQL JSON cannot store it
])
def test_a_bad_survey_is_refused_and_changes_nothing(at_survey, answers):
    with pytest.raises(JourneyError):
        journey.submit_survey(at_survey.pk, answers)
    after = fresh_person(at_survey)
    assert (after.stage, after.survey, after.completion_code, after.bonus) == ("survey", {}, "", at_survey.bonus)


def test_the_speaker_survey_finishes_with_a_completion_code(at_survey):
    journey.submit_survey(at_survey.pk, {**SPEAKER_ANSWERS, "comments": "  fun  ", "extra": "ignored"})
    done = fresh_person(at_survey)
    assert done.survey == {"role": "speaker", "satisfied": 5, "comprehension": 6, "comments": "fun"}
    assert done.stage == "done" and re.fullmatch(r"[0-9A-F]{10}", done.completion_code)
    assert done.bonus == at_survey.bonus and done.completed_at
    with pytest.raises(JourneyError):
        journey.submit_survey(at_survey.pk, SPEAKER_ANSWERS)  # once only
    assert fresh_person(at_survey).completion_code == done.completion_code


def test_the_listener_survey_asks_the_listener_questions(clock):
    open_study("human")
    speaker, listener = in_lobby(expert=True), in_lobby()
    journey.poll_lobby(speaker.pk)
    game = Interaction.objects.get(pk=journey.poll_lobby(listener.pk).interaction_id)
    play.submit_utterance(game.pk, speaker.pk, 0, "hello")
    play.enforce_deadline(game.pk, now=clock.advance(40))
    assert journey.study_role(listener.pk) == "listener"
    with pytest.raises(JourneyError, match="grammatical"):
        journey.submit_survey(listener.pk, SPEAKER_ANSWERS)
    journey.submit_survey(listener.pk, LISTENER_ANSWERS)
    assert fresh_person(listener).survey == {"role": "listener", "satisfied": 1, "grammatical": 2, "clear": 3,
                                             "ambiguous": 4, "comments": ""}
    journey.submit_survey(speaker.pk, SPEAKER_ANSWERS)
    assert {fresh_person(p).stage for p in (speaker, listener)} == {"done"}
    assert fresh_person(speaker).completion_code != fresh_person(listener).completion_code
