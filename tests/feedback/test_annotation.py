"""Post-hoc annotation: campaigns (stratified, seeded samples), the queue (overlap, expiry), submissions,
final labels, adjudication, the blind annotator's view, agreement, the admin pages and the decoder truth."""
from __future__ import annotations

import io
import json

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.utils import timezone

from feedback.models import Annotation, AnnotationCampaign, CampaignTurn, FeedbackLabel
from feedback.selectors import (
    adjudication_queue,
    annotation_page,
    campaign_agreement,
    campaign_progress,
    final_annotations,
)
from feedback.services.annotation import (
    AnnotationError,
    adjudicate,
    close_campaign,
    create_campaign,
    next_annotation,
    skip_annotation,
    submit_annotation,
)
from games.models import Turn
from games.selectors import get_context_spec
from games.services import lifecycle
from tests.factories import CheckpointFactory, DeploymentFactory, RoundFactory
from tests.feedback.conftest import record_game

pytestmark = pytest.mark.django_db


def annotator(name: str) -> User:
    user = User.objects.create_user(name, password="pw-" + name, is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="annotator")[0])
    return user


def staff(name: str = "boss") -> User:
    return User.objects.create_user(name, password="pw-" + name, is_staff=True, is_superuser=True)


@pytest.fixture
def study(game_library, deploy):
    """Round 1: system A (3 games x 3 model turns), system B (1 game x 2 turns); round 2: A (1 game x 3
    turns). Not eligible: an unfinished game of A, a game whose turns were fallbacks."""
    a1 = deploy("A", "lexicon")
    b1 = deploy("B", "lexicon")
    round2 = RoundFactory(number=2, status="closed", opened_at=timezone.now(), closed_at=timezone.now())
    a2 = DeploymentFactory(round=round2, system=a1.system, checkpoint=CheckpointFactory())
    three = [("the swan", "select A"), ("no, not that one", "deselect A select B"), ("yes! now the dog", "select C")]
    for _ in range(3):
        record_game(a1, three, end="speaker_idle")
    record_game(b1, three[:2], end="speaker_idle")
    record_game(a2, three, end="speaker_idle")
    record_game(a1, three)  # still playing
    fallback = record_game(a1, [], config=None)
    lifecycle.append_turn(fallback.pk, index=0, utterance="hm", selection_before=[], selected=[], deselected=[],
                          action_source="fallback")
    lifecycle.end_interaction(fallback.pk, "speaker_idle")
    return {"a1": a1, "b1": b1, "a2": a2}


def campaign(name="c", size=100, **kwargs) -> AnnotationCampaign:
    return create_campaign(name=name, sample_size=size, **kwargs)


def answer(annotation, user, feedback="positive", correctness="yes", **kwargs):
    return submit_annotation(annotation.pk, user, feedback=feedback, correctness=correctness, **kwargs)


# ----------------------------------------------------------------------------- campaigns


def test_the_sample_is_stratified_and_only_of_model_turns_of_ended_study_games(study):
    whole = campaign("all", 100)
    turns = Turn.objects.filter(campaign_entries__campaign=whole)
    assert turns.count() == 14  # 9 + 2 + 3; the unfinished game and the fallback turn are left out
    assert set(turns.values_list("action_source", flat=True)) == {"model"}
    assert set(turns.values_list("interaction__status", flat=True)) == {"ended"}
    part = campaign("part", 6, seed=1)
    strata = list(part.sample.values_list("stratum", flat=True))
    assert {s: strata.count(s) for s in set(strata)} == {"1:A": 4, "1:B": 1, "2:A": 1}
    assert sorted(part.sample.values_list("position", flat=True)) == list(range(6))


def test_the_sample_and_its_order_are_reproducible(study):
    def order(c):
        return list(c.sample.order_by("position").values_list("turn_id", flat=True))

    first, again, other = campaign("x", 7, seed=5), campaign("y", 7, seed=5), campaign("z", 7, seed=6)
    assert order(first) == order(again)
    assert order(first) != order(other)


def test_filters_by_round_and_system(study):
    c = campaign("r2", 100, round_numbers=[2], system_names=["A"])
    assert set(c.sample.values_list("stratum", flat=True)) == {"2:A"}
    assert c.sample.count() == 3
    assert list(c.systems.values_list("name", flat=True)) == ["A"] and c.round_numbers == [2]


@pytest.mark.parametrize("kwargs, message", [
    ({"round_numbers": [9]}, "unknown round 9"),
    ({"system_names": ["NOPE"]}, "unknown system 'NOPE'"),
    ({"sample_size": 0}, "sample_size must be between"),
    ({"sample_size": "5"}, "sample_size must be a whole number"),
    ({"annotators_per_turn": 0}, "annotators_per_turn must be between"),
    ({"claim_minutes": True}, "claim_minutes must be a whole number"),
    ({"name": "  "}, "needs a name"),
    ({"system_names": "A"}, "system_names must be a list"),
    ({"name": "taken"}, "already a campaign named 'taken'"),
])
def test_bad_campaigns_are_refused_and_change_nothing(study, kwargs, message):
    campaign("taken", 2)
    before = (AnnotationCampaign.objects.count(), CampaignTurn.objects.count())
    with pytest.raises(AnnotationError, match=message):
        create_campaign(**{"name": "new", "sample_size": 5, **kwargs})
    assert (AnnotationCampaign.objects.count(), CampaignTurn.objects.count()) == before


def test_no_eligible_turns(study):
    RoundFactory(number=3)
    with pytest.raises(AnnotationError, match="no eligible turns"):
        campaign("empty", 5, round_numbers=[3])
    assert not AnnotationCampaign.objects.exists()


# ----------------------------------------------------------------------------- the queue


def test_the_queue_serves_each_turn_once_with_one_annotator_per_turn(study):
    c = campaign("q", 5, seed=2)
    ann, bob = annotator("ann"), annotator("bob")
    first = next_annotation(c.pk, ann)
    assert next_annotation(c.pk, ann).pk == first.pk  # the open claim comes back
    second = next_annotation(c.pk, bob)
    assert (first.entry.position, second.entry.position) == (0, 1)  # serving order
    served = [first.entry_id, second.entry_id]
    answer(first, ann)
    answer(second, bob)
    progressed = True
    while progressed:
        progressed = False
        for user in (ann, bob):
            a = next_annotation(c.pk, user)
            if a is not None:
                served.append(a.entry_id)
                answer(a, user)
                progressed = True
    assert sorted(served) == sorted(c.sample.values_list("pk", flat=True))  # every turn exactly once


def test_overlap_and_never_the_same_turn_twice_for_one_annotator(study):
    c = campaign("overlap", 4, annotators_per_turn=2, seed=1)
    users = [annotator(n) for n in ("u1", "u2", "u3")]
    seen: dict[int, list[int]] = {}
    for _ in range(12):
        for user in users:
            a = next_annotation(c.pk, user)
            if a is None:
                continue
            seen.setdefault(a.entry_id, []).append(user.pk)
            answer(a, user)
    assert len(seen) == 4
    for entry_id, who in seen.items():
        assert len(who) == 2 and len(set(who)) == 2  # exactly the overlap, never one person twice
    assert all(next_annotation(c.pk, u) is None for u in users)
    assert campaign_progress(c.pk)["done"] == 8 and campaign_progress(c.pk)["turns_final"] == 4


def test_expired_claims_are_freed(study, clock):
    c = campaign("expiry", 1, claim_minutes=30)
    ann, bob = annotator("ann"), annotator("bob")
    held = next_annotation(c.pk, ann)
    assert next_annotation(c.pk, bob) is None  # the only turn is claimed
    clock.advance(29 * 60)
    assert next_annotation(c.pk, bob) is None
    clock.advance(2 * 60)
    taken = next_annotation(c.pk, bob)
    assert taken is not None and taken.entry_id == held.entry_id
    assert next_annotation(c.pk, ann) is None  # ann had this turn: never served to her again
    with pytest.raises(AnnotationError, match="expired"):
        answer(held, ann)
    assert Annotation.objects.get(pk=held.pk).status == "claimed"
    answer(taken, bob)


def test_a_skipped_turn_goes_to_someone_else(study):
    c = campaign("skip", 1)
    ann, bob = annotator("ann"), annotator("bob")
    a = next_annotation(c.pk, ann)
    skip_annotation(a.pk, ann)
    assert next_annotation(c.pk, ann) is None
    assert next_annotation(c.pk, bob).entry_id == a.entry_id


def test_only_the_claimant_submits_or_skips(study):
    c = campaign("mine", 2)
    ann, bob = annotator("ann"), annotator("bob")
    a = next_annotation(c.pk, ann)
    with pytest.raises(AnnotationError, match="only the annotator who was served"):
        answer(a, bob)
    with pytest.raises(AnnotationError, match="only the annotator who was served"):
        skip_annotation(a.pk, bob)
    assert Annotation.objects.get(pk=a.pk).status == "claimed"
    answer(a, ann)
    with pytest.raises(AnnotationError, match="already submitted"):
        answer(a, ann)


@pytest.mark.parametrize("kwargs, message", [
    ({"feedback": "great"}, "feedback must be one of"),
    ({"correctness": ""}, "correctness must be one of"),
    ({"flags": ["happy"]}, "flag must be one of"),
    ({"gold_clicked": ["not-an-image"]}, "not one of this game's images"),
    ({"gold_clicked": "abc"}, "must be a list"),
    ({"note": "x" * 6000}, "at most 5000"),
])
def test_bad_submissions_change_nothing(study, kwargs, message):
    c = campaign("bad", 1)
    ann = annotator("ann")
    a = next_annotation(c.pk, ann)
    with pytest.raises(AnnotationError, match=message):
        submit_annotation(a.pk, ann, **{"feedback": "positive", "correctness": "yes", **kwargs})
    row = Annotation.objects.get(pk=a.pk)
    assert (row.status, row.feedback, row.correctness, row.submitted_at) == ("claimed", "", "", None)
    assert not CampaignTurn.objects.exclude(final_source="").exists()


def test_closed_campaigns_serve_nothing_and_take_no_submissions(study):
    c = campaign("closing", 3)
    ann = annotator("ann")
    a = next_annotation(c.pk, ann)
    close_campaign(c.pk)
    assert next_annotation(c.pk, ann) is None
    with pytest.raises(AnnotationError, match="closed"):
        answer(a, ann)


def test_only_annotators_and_staff_annotate(study):
    c = campaign("who", 1)
    nobody = User.objects.create_user("nobody", password="x")
    with pytest.raises(AnnotationError, match="only annotators and staff"):
        next_annotation(c.pk, nobody)
    assert not Annotation.objects.exists()


# ----------------------------------------------------------------------------- labels


def second_turn_campaign(study, **kwargs):
    """A campaign over round 1 / B's game; its turn 1 ("no, not that one") starts from A selected."""
    return campaign("gold", 100, system_names=["B"], **kwargs)


def serve_turn(c, user, index):
    """Claim until the turn with this index comes (skipping the others)."""
    while True:
        a = next_annotation(c.pk, user)
        if a.entry.turn.index == index:
            return a
        skip_annotation(a.pk, user)


def test_gold_clicks_become_selections_and_deselections(study):
    c = second_turn_campaign(study)
    ann = annotator("ann")
    a = serve_turn(c, ann, 1)
    turn = a.entry.turn
    order = get_context_spec(turn.interaction.config_id).listener_order
    assert turn.selection_before == [order[0]]  # image A was selected before this turn
    done = answer(a, ann, feedback="negative", correctness="no", gold_clicked=[order[0], order[2]])
    assert done.gold_selected == [order[2]] and done.gold_deselected == [order[0]]
    final = final_annotations([turn.pk])[turn.pk]
    assert (final.feedback, final.correctness, final.source) == ("negative", "no", "agreement")
    assert final.gold_selected == (order[2],) and final.gold_deselected == (order[0],)


def test_no_gold_action_is_none(study):
    c = campaign("nogold", 1)
    ann = annotator("ann")
    a = answer(next_annotation(c.pk, ann), ann, flags=["incorrect_satisfaction"], note=" hm ")
    assert (a.gold_selected, a.gold_deselected, a.flags, a.note) == (None, None, ["incorrect_satisfaction"], "hm")


def test_final_label_on_agreement_and_disagreement(study):
    c = campaign("agree", 3, annotators_per_turn=2, seed=9)
    ann, bob = annotator("ann"), annotator("bob")
    results = []
    for labels in [("positive", "yes", "positive", "yes"), ("negative", "no", "neutral", "no"),
                   ("negative", "partial", "negative", "partial")]:
        a, b = next_annotation(c.pk, ann), next_annotation(c.pk, bob)
        assert a.entry_id == b.entry_id
        order = get_context_spec(a.entry.turn.interaction.config_id).listener_order
        answer(a, ann, feedback=labels[0], correctness=labels[1], gold_clicked=[order[4]])
        entry = CampaignTurn.objects.get(pk=a.entry_id)
        assert entry.final_source == ""  # waits for the second annotation
        gold_b = [order[4]] if labels[0] == "positive" else None
        answer(b, bob, feedback=labels[2], correctness=labels[3], gold_clicked=gold_b)
        results.append(CampaignTurn.objects.get(pk=a.entry_id))
    agreed, differ, gold_differs = results
    assert (agreed.final_source, agreed.final_feedback, agreed.final_gold_selected) == (
        "agreement", "positive", [get_context_spec(agreed.turn.interaction.config_id).listener_order[4]])
    assert (differ.final_source, differ.final_feedback) == ("", "")
    assert (gold_differs.final_source, gold_differs.final_correctness, gold_differs.final_gold_selected) == (
        "agreement", "partial", None)
    queue = adjudication_queue(c.pk)
    assert [(q["entry_id"], q["labels_agree"], q["gold_agrees"]) for q in queue] == sorted(
        [(differ.pk, False, False), (gold_differs.pk, True, False)],
        key=lambda r: CampaignTurn.objects.get(pk=r[0]).position)
    agreement = campaign_agreement(c.pk)
    assert agreement["turns_with_overlap"] == 3
    assert agreement["percent_feedback"] == pytest.approx(2 / 3) and agreement["percent_correctness"] == 1.0
    assert agreement["alpha_correctness"] == pytest.approx(1.0)
    assert agreement["kappa_correctness"] == pytest.approx(1.0)
    assert agreement["alpha_feedback"] is not None and agreement["alpha_feedback"] < 1


def test_adjudication(study):
    c = second_turn_campaign(study)
    boss, ann = staff(), annotator("ann")
    a = serve_turn(c, ann, 1)
    order = get_context_spec(a.entry.turn.interaction.config_id).listener_order
    with pytest.raises(AnnotationError, match="only staff"):
        adjudicate(a.entry_id, ann, feedback="negative", correctness="no")
    with pytest.raises(AnnotationError, match="already selected before"):
        adjudicate(a.entry_id, boss, feedback="negative", correctness="no", gold_selected=[order[0]])
    with pytest.raises(AnnotationError, match="not selected before"):
        adjudicate(a.entry_id, boss, feedback="negative", correctness="no", gold_deselected=[order[3]])
    with pytest.raises(AnnotationError, match="feedback must be one of"):
        adjudicate(a.entry_id, boss, feedback="meh", correctness="no")
    assert CampaignTurn.objects.get(pk=a.entry_id).final_source == ""
    entry = adjudicate(a.entry_id, boss, feedback="negative", correctness="partial", gold_selected=[order[3]],
                       gold_deselected=[order[0]])
    assert (entry.final_source, entry.adjudicated_by, entry.final_gold_selected, entry.final_gold_deselected) == (
        "adjudicated", boss, [order[3]], [order[0]])
    answer(a, ann, feedback="positive", correctness="yes")  # a late annotation leaves the adjudication alone
    assert final_annotations([a.entry.turn_id])[a.entry.turn_id].source == "adjudicated"


# ----------------------------------------------------------------------------- what the annotator sees


def test_the_annotators_view_is_the_listeners_screen_and_blind(study):
    c = second_turn_campaign(study)
    ann = annotator("ann")
    a = serve_turn(c, ann, 1)
    turn = a.entry.turn
    FeedbackLabel.objects.create(turn=turn, decoder="lexicon", prompt_version="v-secret", label="negative",
                                 raw_output="DECODER-TRACE-XYZ")
    page = annotation_page(a.pk)
    spec = get_context_spec(turn.interaction.config_id)
    assert [im["name"] for im in page["images"]] == list(spec.listener_order)
    assert [im["letter"] for im in page["images"]] == list("ABCDEFGHIJ")
    assert {im["name"] for im in page["images"] if im["target"]} == set(spec.targets)
    assert page["selection_before"] == ["A"] and page["action"] == {"selected": ["B"], "deselected": ["A"]}
    assert page["selection_after"] == ["B"]
    assert page["utterance"] == "no, not that one" and page["next_message"] is None
    assert page["game_end"] == "speaker_idle"
    assert [d["utterance"] for d in page["dialogue"]] == ["the swan"]
    assert "DECODER-TRACE-XYZ" not in json.dumps(page) and "v-secret" not in json.dumps(page)


def test_the_next_message_is_the_following_turn(study):
    c = second_turn_campaign(study)
    ann = annotator("ann")
    page = annotation_page(serve_turn(c, ann, 0).pk)
    assert page["next_message"] == "no, not that one" and page["dialogue"] == []


# ----------------------------------------------------------------------------- decoder evaluation


def test_evaluate_decoder_against_annotations(study):
    c = campaign("truth", 100, system_names=["B"])
    ann = annotator("ann")
    for a in iter(lambda: next_annotation(c.pk, ann), None):
        answer(a, ann, feedback="negative" if a.entry.turn.index == 0 else "positive", correctness="no")
    out = io.StringIO()
    call_command("evaluate_decoder", "--decoder", "lexicon", "--live", "--truth", "annotation", "--system", "B",
                 "--json", stdout=out)
    rows = json.loads(out.getvalue())
    overall = [r for r in rows if r["round"] is None][0]
    assert overall["truth"] == "annotation"
    assert overall["total"] == 2  # the two annotated turns have a truth; nothing else does


# ----------------------------------------------------------------------------- the admin pages


def test_annotators_see_only_the_annotation_pages(study, client):
    c = campaign("adm", 3)
    client.force_login(annotator("ann"))
    assert client.get("/admin/").url == "/admin/feedback/annotationcampaign/annotate/"
    for url in ["/admin/games/interaction/", "/admin/feedback/feedbacklabel/", "/admin/auth/user/",
                "/admin/feedback/annotationcampaign/", "/admin/feedback/annotationcampaign/add/",
                f"/admin/feedback/annotationcampaign/{c.pk}/report/", "/admin/games/"]:
        assert client.get(url).status_code == 403, url
    listing = client.get("/admin/feedback/annotationcampaign/annotate/")
    assert listing.status_code == 200 and "adm" in listing.content.decode()
    assert client.get(f"/admin/feedback/annotationcampaign/annotate/{c.pk}/").status_code == 200


def test_the_annotate_page_is_blind_and_submissions_are_logged(study, client):
    c = second_turn_campaign(study)
    ann = annotator("ann")
    client.force_login(ann)
    url = f"/admin/feedback/annotationcampaign/annotate/{c.pk}/"
    for turn in Turn.objects.filter(campaign_entries__campaign=c):
        FeedbackLabel.objects.create(turn=turn, decoder="lexicon", prompt_version="v-secret", label="negative",
                                     raw_output="DECODER-TRACE-XYZ")
    html = client.get(url).content.decode()
    assert "DECODER-TRACE-XYZ" not in html and "v-secret" not in html
    assert html.count('class="ann-svg"><svg') == 10 and "Keyboard shortcuts" in html
    a = Annotation.objects.get(annotator=ann, status="claimed")
    order = get_context_spec(a.entry.turn.interaction.config_id).listener_order
    response = client.post(url, {"annotation_id": a.pk, "action": "submit", "feedback": "neutral",
                                 "correctness": "partial", "flags": ["partial_satisfaction"], "gold_given": "1",
                                 "gold": [order[1]], "note": "close"})
    assert response.status_code == 302
    a.refresh_from_db()
    assert (a.status, a.feedback, a.correctness, a.flags, a.note) == (
        "done", "neutral", "partial", ["partial_satisfaction"], "close")
    claim_log, submit_log = LogEntry.objects.filter(object_id=str(a.pk)).order_by("pk")
    assert (claim_log.user, claim_log.action_flag) == (ann, ADDITION)
    assert (submit_log.user, submit_log.action_flag) == (ann, CHANGE) and "Submitted" in submit_log.get_change_message()
    client.get(url)  # serves the next turn
    nxt = Annotation.objects.get(annotator=ann, status="claimed")
    client.post(url, {"annotation_id": nxt.pk, "action": "skip"})
    assert Annotation.objects.get(pk=nxt.pk).status == "skipped"
    assert LogEntry.objects.filter(object_id=str(nxt.pk), user=ann).exists()


def test_a_bad_post_changes_nothing(study, client):
    c = campaign("badpost", 2)
    ann, bob = annotator("ann"), annotator("bob")
    a = next_annotation(c.pk, bob)
    client.force_login(ann)
    url = f"/admin/feedback/annotationcampaign/annotate/{c.pk}/"
    response = client.post(url, {"annotation_id": a.pk, "action": "submit", "feedback": "positive",
                                 "correctness": "yes"}, follow=True)
    assert "only the annotator who was served" in response.content.decode().lower()
    assert Annotation.objects.get(pk=a.pk).status == "claimed" and not LogEntry.objects.filter(object_id=str(a.pk)).exists()


def test_staff_create_campaigns_read_agreement_and_adjudicate(study, client):
    boss = staff()
    client.force_login(boss)
    bad = client.post("/admin/feedback/annotationcampaign/add/", {
        "name": "s", "sample_size": 4, "round_numbers": "7", "systems": "", "annotators_per_turn": 2, "seed": 0,
        "claim_minutes": 30})
    assert bad.status_code == 200 and "unknown round 7" in bad.content.decode()
    assert not AnnotationCampaign.objects.exists()
    response = client.post("/admin/feedback/annotationcampaign/add/", {
        "name": "s", "description": "pilot", "sample_size": 4, "round_numbers": "1", "systems": "A, B",
        "annotators_per_turn": 2, "seed": 3, "claim_minutes": 30})
    c = AnnotationCampaign.objects.get(name="s")
    assert response.status_code == 302 and c.sample.count() == 4 and c.created_by == boss
    assert LogEntry.objects.get(object_id=str(c.pk)).user == boss
    ann, bob = annotator("ann"), annotator("bob")
    a, b = next_annotation(c.pk, ann), next_annotation(c.pk, bob)
    answer(a, ann, feedback="positive")
    answer(b, bob, feedback="negative")
    report = client.get(f"/admin/feedback/annotationcampaign/{c.pk}/report/").content.decode()
    assert "Krippendorff" in report and f"/admin/feedback/annotationcampaign/adjudicate/{a.entry_id}/" in report
    listing = client.get("/admin/feedback/annotationcampaign/").content.decode()
    assert "1 / 8 annotations" not in listing and "2 / 8 annotations" in listing
    assert client.get(f"/admin/feedback/annotationcampaign/{c.pk}/change/").status_code == 200
    url = f"/admin/feedback/annotationcampaign/adjudicate/{a.entry_id}/"
    page = client.get(url).content.decode()
    assert "ann" in page and "bob" in page
    response = client.post(url, {"feedback": "neutral", "correctness": "yes"})
    assert response.status_code == 302
    entry = CampaignTurn.objects.get(pk=a.entry_id)
    assert (entry.final_source, entry.final_feedback, entry.final_gold_selected) == ("adjudicated", "neutral", None)
    assert LogEntry.objects.filter(object_id=str(entry.pk), user=boss).exists()
    assert adjudication_queue(c.pk) == []


def test_the_annotator_group_exists_without_model_permissions():
    group = Group.objects.get(name="annotator")  # made by feedback's data migration
    assert not group.permissions.exists()
