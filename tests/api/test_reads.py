"""The read endpoints: what they show, their filters, pagination, and refusals of bad query strings."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from games.models import Interaction


@pytest.fixture
def staff(study, client_for):
    return client_for("staff")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_rounds_systems_and_deployments(study, staff):
    body = staff.get("/api/rounds/").json()
    assert body["count"] == 2 and [r["number"] for r in body["results"]] == [1, 2]
    assert body["results"][0]["deployment_count"] == 2 and body["results"][0]["status"] == "closed"
    assert ids(staff.get("/api/rounds/", {"status": "open"})) == [study["rounds"][1].pk]
    assert [s["name"] for s in staff.get("/api/systems/").json()["results"]] == ["B-SUP", "CONTROL"]
    assert [s["name"] for s in staff.get("/api/systems/", {"round": 2}).json()["results"]] == ["B-SUP"]
    deployments = staff.get("/api/deployments/", {"round": 1}).json()["results"]
    assert [(d["round"], d["system"], d["game_count"]) for d in deployments] == [(1, "B-SUP", 2), (1, "CONTROL", 2)]
    assert [d["system"] for d in staff.get("/api/deployments/", {"system": "CONTROL"}).json()["results"]] == ["CONTROL"]


def test_checkpoints_and_training_runs(study, staff):
    initial, trained = study["checkpoints"]
    assert ids(staff.get("/api/checkpoints/", {"round": 1})) == [trained.pk]
    assert set(ids(staff.get("/api/checkpoints/"))) == {initial.pk, trained.pk}
    row = staff.get(f"/api/checkpoints/{trained.pk}/").json()
    assert (row["round"], row["system"], row["parent"]) == (1, "B-SUP", initial.pk)
    runs = staff.get("/api/training-runs/", {"status": "succeeded", "system": "B-SUP", "round": 1}).json()["results"]
    assert [(r["round"], r["system"], r["checkpoint"]) for r in runs] == [(1, "B-SUP", trained.pk)]
    assert ids(staff.get("/api/training-runs/", {"status": "failed"})) == []


def test_interactions_come_with_their_turns_and_no_participant_details(study, staff):
    game = study["games"][0]
    row = staff.get(f"/api/interactions/{game.pk}/").json()
    assert (row["round"], row["system"], row["status"], row["end_reason"]) == (1, "B-SUP", "ended", "speaker_idle")
    assert [t["utterance"] for t in row["turns"]] == ["the bird on the left", "no, the fish"]
    assert [t["index"] for t in row["turns"]] == [0, 1]
    assert row["speaker"] == game.speaker_id and row["listener"] is None
    assert not {"external_id_hash", "session_id_hash", "browser_hash", "pending_utterance"} & set(row)
    listed = staff.get("/api/interactions/", {"system": "CONTROL", "status": "ended"}).json()
    assert listed["count"] == 2 and all(len(g["turns"]) == 2 for g in listed["results"])
    assert staff.get("/api/interactions/", {"end_reason": "success"}).json()["count"] == 0


def test_feedback_labels_filter_by_decoder_label_round_and_system(study, staff):
    assert staff.get("/api/feedback-labels/").json()["count"] == 8
    lexicon = staff.get("/api/feedback-labels/", {"decoder": "lexicon", "system": "B-SUP", "round": 1}).json()
    assert lexicon["count"] == 2 and {r["label"] for r in lexicon["results"]} == {"negative"}
    assert {r["interaction"] for r in lexicon["results"]} == {g.pk for g in study["games"][:2]}
    assert staff.get("/api/feedback-labels/", {"label": "positive"}).json()["count"] == 0


def test_campaigns_and_annotations(study, staff, users, client_for):
    campaign = study["campaign"]
    row = staff.get(f"/api/campaigns/{campaign.pk}/").json()
    assert (row["name"], row["turn_count"], row["done_count"], row["status"]) == ("pilot", 4, 0, "open")
    client_for("annotator").post(f"/api/campaigns/{campaign.pk}/next/")
    annotations = staff.get("/api/annotations/", {"campaign": campaign.pk, "status": "claimed"}).json()["results"]
    assert [(a["annotator"], a["status"]) for a in annotations] == [("anna", "claimed")]
    assert staff.get("/api/annotations/", {"status": "done"}).json()["count"] == 0


def test_created_after_and_before(study, staff):
    old = study["games"][0]
    Interaction.objects.filter(pk=old.pk).update(created_at=timezone.make_aware(dt.datetime(2025, 1, 10, 12)))
    assert ids(staff.get("/api/interactions/", {"created_before": "2025-01-11"})) == [old.pk]
    assert ids(staff.get("/api/interactions/", {"created_before": "2025-01-10T12:00:00Z"})) == []
    assert ids(staff.get("/api/interactions/", {"created_after": "2025-01-10T12:00:00+00:00",
                                                "created_before": "2025-01-10T12:00:01"})) == [old.pk]
    assert old.pk not in ids(staff.get("/api/interactions/", {"created_after": "2025-01-11"}))
    assert staff.get("/api/interactions/", {"created_after": "2025-01-11"}).json()["count"] == 3


def test_pagination_is_by_page_number_with_a_bounded_page_size(study, staff, settings):
    settings.API_PAGE_SIZE = 3
    first = staff.get("/api/interactions/").json()
    assert first["count"] == 4 and len(first["results"]) == 3 and first["previous"] is None
    second = staff.get(first["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None
    assert {g["id"] for g in first["results"] + second["results"]} == {g.pk for g in study["games"]}
    assert len(staff.get("/api/interactions/", {"page_size": 2}).json()["results"]) == 2
    settings.API_MAX_PAGE_SIZE = 10
    assert len(staff.get("/api/interactions/", {"page_size": 10}).json()["results"]) == 4


@pytest.mark.parametrize(("query", "says"), [
    ({"round": "abc"}, "round"),
    ({"round": "0"}, "positive whole number"),
    ({"round": "99"}, "there is no round 99"),
    ({"round": "9" * 40}, "positive whole number"),
    ({"system": "NOPE"}, "there is no system named 'NOPE'"),
    ({"status": "finished"}, "'finished' is not one of: waiting, playing, ended"),
    ({"created_after": "yesterday"}, "not an ISO 8601 date"),
    ({"created_before": "2025-13-45"}, "not an ISO 8601 date"),
    ({"colour": "red"}, "unknown query parameter(s): colour"),
    ({"round": ["1", "2"]}, "give it once"),
    ({"page_size": "0"}, "page_size"),
    ({"page_size": "100000"}, "from 1 to 500"),
    ({"page_size": "ten"}, "page_size"),
])
def test_bad_query_strings_are_refused_with_a_clear_message(study, staff, query, says):
    response = staff.get("/api/interactions/", query)
    assert response.status_code == 400
    assert says in str(response.json())


def test_a_page_past_the_end_and_unknown_ids_are_404(study, staff):
    assert staff.get("/api/interactions/", {"page": 99}).status_code == 404
    assert staff.get("/api/interactions/", {"page": "x"}).status_code == 404
    for path in ("/api/rounds/999999/", "/api/rounds/abc/", "/api/interactions/99999999999999999999999/"):
        response = staff.get(path)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", path


def test_a_token_reads_like_its_user_and_the_root_lists_every_endpoint(study, client_for):
    api = client_for("token")
    root = api.get("/api/").json()
    assert {"rounds", "systems", "deployments", "checkpoints", "training-runs", "interactions", "feedback-labels",
            "campaigns", "annotations", "audit", "schema"} <= set(root)
    for url in root.values():
        assert api.get(url).status_code == 200, url


def test_the_browsable_root_is_served_without_outside_assets(study, staff):
    response = staff.get("/api/", HTTP_ACCEPT="text/html")
    page = response.content.decode()
    assert response.status_code == 200 and "/static/rest_framework/" in page
    assert "cdn" not in page.lower() and "<script src=\"http" not in page


def test_listing_costs_the_same_queries_for_one_row_or_many(study, staff):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for path in ("/api/interactions/", "/api/feedback-labels/", "/api/deployments/", "/api/campaigns/",
                 "/api/annotations/", "/api/checkpoints/", "/api/training-runs/", "/api/audit/"):
        for size in (1, 4):
            with CaptureQueriesContext(connection) as queries:
                assert staff.get(path, {"page_size": size}).status_code == 200
            counts[path, size] = len(queries)
        assert counts[path, 1] == counts[path, 4], (path, counts)
