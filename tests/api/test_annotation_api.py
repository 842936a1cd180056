"""Annotation through the API: claim, submit, skip; refusals change nothing; every write is audited."""
from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry

from feedback.models import Annotation


@pytest.fixture
def anna(study, client_for):
    return client_for("annotator")


def claim(api, campaign) -> dict:
    response = api.post(f"/api/campaigns/{campaign.pk}/next/")
    assert response.status_code == 200, response.content
    return response.json()["annotation"]


def state() -> tuple:
    """Everything a refused call must leave alone."""
    return (list(Annotation.objects.order_by("pk").values()), LogEntry.objects.count())


def test_an_annotator_claims_sees_the_turn_blind_and_submits(study, anna, users):
    campaign = study["campaign"]
    opened = anna.get("/api/campaigns/open/").json()
    assert [(c["campaign_id"], c["name"], c["turns"]) for c in opened] == [(campaign.pk, "pilot", 4)]
    page = claim(anna, campaign)
    assert len(page["images"]) == 10 and page["utterance"] and "next_message" in page
    text = json.dumps(page)
    assert "lexicon" not in text and "binary" not in text and "label" not in text  # blind: no decoder output
    assert claim(anna, campaign)["annotation_id"] == page["annotation_id"]  # the open claim comes back
    clicked = [page["images"][0]["name"]]
    response = anna.post(f"/api/annotations/{page['annotation_id']}/submit/", {
        "feedback": "negative", "correctness": "no", "flags": ["incorrect_satisfaction"], "gold_clicked": clicked,
        "note": "  wrong image  "}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["feedback"], body["correctness"], body["flags"]) == (
        "done", "negative", "no", ["incorrect_satisfaction"])
    assert (body["gold_selected"] or []) + (body["gold_deselected"] or []) == clicked
    assert "annotator" not in body and "label" not in body
    assert claim(anna, campaign)["annotation_id"] != page["annotation_id"]


def test_api_writes_are_in_the_audit_log_and_the_audit_endpoint_filters_them(study, anna, users, client_for):
    page = claim(anna, study["campaign"])
    claim(anna, study["campaign"])  # the same open claim again: nothing changed, nothing logged
    anna.post(f"/api/annotations/{page['annotation_id']}/submit/", {"feedback": "positive", "correctness": "yes"},
              format="json")
    skipped = claim(anna, study["campaign"])
    anna.post(f"/api/annotations/{skipped['annotation_id']}/skip/")
    entries = list(LogEntry.objects.order_by("pk"))
    assert [(e.user.username, e.action_flag, e.object_id, e.content_type.model) for e in entries] == [
        ("anna", ADDITION, str(page["annotation_id"]), "annotation"),
        ("anna", CHANGE, str(page["annotation_id"]), "annotation"),
        ("anna", ADDITION, str(skipped["annotation_id"]), "annotation"),
        ("anna", CHANGE, str(skipped["annotation_id"]), "annotation"),
    ]
    assert "feedback=positive, correctness=yes" in entries[1].change_message
    staff = client_for("staff")
    listed = staff.get("/api/audit/", {"user": "anna"}).json()
    assert listed["count"] == 4 and listed["results"][0]["action"] == "change"  # newest first
    assert listed["results"][0]["message"] == "Skipped through the API."
    assert listed["results"][0]["model"] == "feedback.annotation" and listed["results"][0]["username"] == "anna"
    assert staff.get("/api/audit/", {"user": users["annotator"].pk}).json()["count"] == 4
    assert staff.get("/api/audit/", {"user": "researcher"}).json()["count"] == 0
    assert staff.get("/api/audit/", {"after": "2999-01-01"}).json()["count"] == 0
    assert staff.get("/api/audit/", {"before": "2999-01-01", "after": "2000-01-01"}).json()["count"] == 4
    assert staff.get("/api/audit/", {"user": "nobody"}).status_code == 400
    assert anna.get("/api/audit/").status_code == 403


@pytest.mark.parametrize(("body", "says"), [
    ({}, "feedback"),
    ({"feedback": "great", "correctness": "yes"}, "feedback"),
    ({"feedback": 1, "correctness": "yes"}, "feedback"),
    ({"feedback": "positive", "correctness": ["yes"]}, "correctness"),
    ({"feedback": "positive", "correctness": "yes", "flags": "incorrect_satisfaction"}, "flags"),
    ({"feedback": "positive", "correctness": "yes", "flags": ["happy"]}, "flags"),
    ({"feedback": "positive", "correctness": "yes", "gold_clicked": "A"}, "gold_clicked"),
    ({"feedback": "positive", "correctness": "yes", "gold_clicked": ["not-an-image"]}, "not one of this game's images"),
    ({"feedback": "positive", "correctness": "yes", "note": "x" * 2001}, "note"),
    (["positive", "yes"], "Expected a dictionary"),
])
def test_bad_submissions_are_refused_and_change_nothing(study, anna, body, says):
    page = claim(anna, study["campaign"])
    before = state()
    response = anna.post(f"/api/annotations/{page['annotation_id']}/submit/", body, format="json")
    assert response.status_code == 400 and says in response.content.decode(), response.content
    assert state() == before


def test_malformed_oversized_and_non_json_bodies_are_refused(study, anna):
    page = claim(anna, study["campaign"])
    url = f"/api/annotations/{page['annotation_id']}/submit/"
    before = state()
    broken = anna.post(url, '{"feedback": "positive",', content_type="application/json")
    assert broken.status_code == 400 and "JSON parse error" in broken.json()["detail"]
    huge = anna.post(url, json.dumps({"feedback": "positive", "correctness": "yes", "note": "x" * 20000}),
                     content_type="application/json")
    assert huge.status_code == 413 and "too large" in huge.json()["detail"]
    form = anna.post(url, "feedback=positive&correctness=yes", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    assert state() == before


def test_only_the_claimant_submits_or_skips_and_only_once(study, anna, client_for):
    page = claim(anna, study["campaign"])
    url = f"/api/annotations/{page['annotation_id']}"
    bert = client_for("second_annotator")
    before = state()
    for action in ("submit", "skip"):
        response = bert.post(f"{url}/{action}/", {"feedback": "positive", "correctness": "yes"}, format="json")
        assert response.status_code == 400 and "only the annotator who was served" in response.json()["detail"]
    assert state() == before
    assert anna.post(f"{url}/skip/").json()["status"] == "skipped"
    before = state()
    again = anna.post(f"{url}/submit/", {"feedback": "positive", "correctness": "yes"}, format="json")
    assert again.status_code == 400 and "already" in again.json()["detail"]
    assert state() == before


def test_unknown_campaigns_and_annotations_are_404(study, anna):
    before = state()
    assert anna.post("/api/campaigns/999/next/").status_code == 404
    assert anna.post("/api/campaigns/abc/next/").status_code == 404
    assert anna.post("/api/annotations/999/skip/").status_code == 404
    assert anna.post("/api/annotations/999/submit/", {"feedback": "positive", "correctness": "yes"},
                     format="json").status_code == 404
    assert state() == before


def test_a_closed_or_finished_campaign_serves_nothing(study, anna):
    from feedback.services.annotation import close_campaign

    close_campaign(study["campaign"].pk)
    before = state()
    response = anna.post(f"/api/campaigns/{study['campaign'].pk}/next/")
    assert response.status_code == 200 and response.json()["annotation"] is None
    assert state() == before
    assert anna.get("/api/campaigns/open/").json() == []


def test_annotators_cannot_read_labels_or_anything_else(study, anna):
    for path in ("/api/feedback-labels/", "/api/annotations/", f"/api/campaigns/{study['campaign'].pk}/",
                 "/api/interactions/", "/api/", "/api/schema/"):
        assert anna.get(path).status_code == 403, path
