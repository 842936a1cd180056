"""Who may call what, over every endpoint of the API (the list comes from the URL configuration, so a
new endpoint cannot be left out)."""
from __future__ import annotations

import re

import pytest
from django.urls import URLPattern

from api import urls as api_urls
from tests.api.conftest import ROLES

# Endpoints annotators may call (URL names); every other one is for staff only.
ANNOTATION_ENDPOINTS = {"campaigns-next", "campaigns-open", "annotations-submit", "annotations-skip"}


def _methods(pattern: URLPattern) -> list[str]:
    callback = pattern.callback
    actions = getattr(callback, "actions", None)  # a viewset route: {"get": "list"}
    if actions is not None:
        return sorted(actions)
    view = callback.cls
    return sorted(m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m))


ENDPOINTS = [
    (pattern.name, method, str(pattern.pattern))
    for pattern in api_urls.urlpatterns
    for method in _methods(pattern)
]


def concrete_path(name: str, route: str, study, users) -> str:
    """The URL of an endpoint with a real row id in place of its ``pk``."""
    ids = {
        "rounds": study["rounds"][0].pk, "systems": study["systems"][0].pk,
        "deployments": study["games"][0].deployment_id, "checkpoints": study["checkpoints"][0].pk,
        "training-runs": study["run"].pk, "interactions": study["games"][0].pk,
        "feedback-labels": study["games"][0].turns.get(index=0).feedback_labels.first().pk,
        "campaigns": study["campaign"].pk, "annotations": study["annotation"].pk, "audit": study["log_entry"].pk,
    }
    path = route.lstrip("^").rstrip("$")
    if "(?P<pk>" in path:
        basename = next((b for b in ids if name.startswith(b + "-")), None)
        assert basename, f"give {name} a row id in concrete_path"
        path = re.sub(r"\(\?P<pk>[^)]*\)", str(ids[basename]), path)
    assert "(" not in path and "<" not in path, f"give {name} a concrete id in concrete_path: {route}"
    return "/api/" + path


@pytest.fixture
def rows(study, users):
    """The study plus an annotation claimed by the annotator and one audit entry."""
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.utils import timezone

    from feedback.models import Annotation

    entry = study["campaign"].sample.order_by("position").first()
    study["annotation"] = Annotation.objects.create(entry=entry, annotator=users["annotator"], claimed_at=timezone.now())
    study["log_entry"] = LogEntry.objects.log_actions(
        users["staff"].pk, type(study["campaign"]).objects.filter(pk=study["campaign"].pk), CHANGE, "test",
        single_object=True,
    )
    return study


def expected(role: str, name: str) -> str:
    if role in ("anonymous", "participant"):
        return "unauthenticated"
    if role == "annotator" and name not in ANNOTATION_ENDPOINTS:
        return "forbidden"
    return "allowed"


def outcome(response) -> str:
    if response.status_code == 401 and response["WWW-Authenticate"].startswith("Token"):
        return "unauthenticated"
    if response.status_code == 403:
        return "forbidden"
    # Let through: any answer but a refusal of who is asking (a 400 for an empty submission is fine).
    if response.status_code not in (401, 403, 405) and response.status_code < 500:
        return "allowed"
    return f"status {response.status_code}"


@pytest.mark.parametrize(("name", "method", "route"), ENDPOINTS, ids=[f"{m.upper()} {n}" for n, m, _ in ENDPOINTS])
def test_every_endpoint_answers_each_role_as_it_should(rows, users, client_for, name, method, route):
    path = concrete_path(name, route, rows, users)
    wrong = []
    for role in ROLES:
        api = client_for(role)
        response = api.get(path) if method == "get" else getattr(api, method)(path, format="json")
        if outcome(response) != expected(role, name):
            wrong.append(f"{role}: {method.upper()} {path} -> {response.status_code} {response.content[:200]!r}, "
                         f"expected {expected(role, name)}")
    assert wrong == []


def test_the_matrix_covers_every_route_of_the_api():
    names = {name for name, _, _ in ENDPOINTS}
    assert {"root", "schema", "rounds-list", "rounds-detail", "audit-list", "campaigns-next", "annotations-submit",
            "annotations-skip", "campaigns-open"} <= names
    assert ANNOTATION_ENDPOINTS <= names


def test_other_methods_are_refused_and_change_nothing(rows, client_for):
    api = client_for("staff")
    round_id = rows["rounds"][0].pk
    for method in ("post", "put", "patch", "delete"):
        assert getattr(api, method)(f"/api/rounds/{round_id}/", {"status": "draft"}, format="json").status_code == 405
    assert getattr(api, "post")("/api/rounds/", {"number": 9}, format="json").status_code == 405
    rows["rounds"][0].refresh_from_db()
    assert rows["rounds"][0].status == "closed"


def test_an_inactive_or_plain_user_gets_nothing(rows, users, client_for):
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    plain = User.objects.create_user("visitor")
    api = APIClient()
    api.force_login(plain)
    assert api.get("/api/rounds/").status_code == 403
    assert api.post(f"/api/campaigns/{rows['campaign'].pk}/next/").status_code == 403
    users["token"].is_active = False
    users["token"].save()
    refused = client_for("token").get("/api/rounds/")
    assert refused.status_code == 401 and refused.json()["detail"] == "User inactive or deleted."


def test_a_bad_token_is_refused(rows):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = api.get("/api/rounds/")
    assert response.status_code == 401 and "Invalid token" in response.json()["detail"]


def test_no_worker_id_or_its_hash_appears_anywhere(rows, client_for):
    from games.models import Participant

    staff = client_for("staff")
    client_for("participant")  # a participant who entered with a raw worker id
    hashes = list(Participant.objects.values_list("external_id_hash", flat=True))
    for path in ("/api/interactions/", f"/api/interactions/{rows['games'][0].pk}/", "/api/audit/"):
        text = staff.get(path).content.decode()
        assert "WORKER1RAW" not in text
        assert all(h not in text for h in hashes)
