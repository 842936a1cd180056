"""Every admin action that changes data writes a LogEntry (the audit log), as API writes do.

The inventory test walks every registered ModelAdmin: an admin that can change data, or offers an
action, must be one whose logging is tested here."""
from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import User
from django.test import RequestFactory

from feedback.models import Annotation, AnnotationCampaign

# Admins allowed to change data, and the custom actions they offer: each is checked below.
AUDITED = {
    "feedback.annotationcampaign": {"close_selected"},  # + add view, annotate and adjudicate views
    "authtoken.tokenproxy": set(),  # DRF's token admin: Django logs its adds and deletes
    "auth.user": set(),
    "auth.group": set(),
}


@pytest.fixture
def boss(db):
    return User.objects.create_superuser("boss", email="")


def _label(model) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def test_every_admin_that_can_change_data_is_audited(boss):
    request = RequestFactory().get("/admin/")
    request.user = boss
    for model, model_admin in admin.site._registry.items():
        writes = (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)
                  or model_admin.has_delete_permission(request))
        custom = set(model_admin.get_actions(request)) - {"delete_selected"}  # Django's own logs deletions
        if _label(model) in AUDITED:
            assert custom <= AUDITED[_label(model)], f"{_label(model)}: test the logging of {custom}"
        else:
            assert not writes and not custom, f"{_label(model)} changes data: log it and add it to AUDITED"


def test_closing_campaigns_from_the_admin_is_logged(study, boss, client):
    client.force_login(boss)
    campaign = study["campaign"]
    response = client.post("/admin/feedback/annotationcampaign/", {
        "action": "close_selected", "_selected_action": [campaign.pk]})
    assert response.status_code == 302
    assert AnnotationCampaign.objects.get(pk=campaign.pk).status == "closed"
    [entry] = LogEntry.objects.all()
    assert (entry.user, entry.action_flag, entry.object_id) == (boss, CHANGE, str(campaign.pk))


def test_claims_and_submissions_in_the_admin_are_logged(study, users, client):
    client.force_login(users["annotator"])
    url = f"/admin/feedback/annotationcampaign/annotate/{study['campaign'].pk}/"
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200  # the same open claim: nothing new to log
    annotation = Annotation.objects.get()
    response = client.post(url, {"annotation_id": annotation.pk, "feedback": "positive", "correctness": "yes"})
    assert response.status_code == 302
    assert [(e.user.username, e.action_flag, e.object_id) for e in LogEntry.objects.order_by("pk")] == [
        ("anna", ADDITION, str(annotation.pk)), ("anna", CHANGE, str(annotation.pk))]


def test_tokens_made_in_the_admin_are_logged(users, boss, client):
    from rest_framework.authtoken.models import Token

    client.force_login(boss)
    response = client.post("/admin/authtoken/tokenproxy/add/", {"user": users["staff"].pk})
    assert response.status_code == 302, response.content[:500]
    assert Token.objects.filter(user=users["staff"]).exists()
    [entry] = LogEntry.objects.all()
    assert (entry.user, entry.action_flag) == (boss, ADDITION)
