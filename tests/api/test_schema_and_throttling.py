"""The OpenAPI document, and rate limits (429)."""
from __future__ import annotations

import re

import pytest
import yaml
from drf_spectacular.validation import validate_schema

from api import urls as api_urls


def openapi_path(route: str) -> str:
    """``^rounds/(?P<pk>[^/.]+)/$`` -> ``/api/rounds/{id}/`` (drf-spectacular names a pk ``id``)."""
    path = re.sub(r"\(\?P<pk>[^)]*\)", "{id}", route.lstrip("^").rstrip("$"))
    return "/api/" + path


def test_the_schema_is_a_valid_openapi_document_listing_every_endpoint(study, client_for):
    response = client_for("staff").get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    document = response.json()
    validate_schema(document)  # raises on an invalid OpenAPI 3 document
    assert document["openapi"].startswith("3.")
    routes = {openapi_path(str(p.pattern)) for p in api_urls.urlpatterns if p.name != "schema"}
    assert routes - set(document["paths"]) == set()
    listing = document["paths"]["/api/interactions/"]["get"]
    assert {"round", "system", "status", "created_after", "created_before", "page", "page_size"} <= {
        p["name"] for p in listing["parameters"]}
    assert {"tokenAuth", "cookieAuth"} <= set(document["components"]["securitySchemes"])
    assert "/api/annotations/{id}/submit/" in document["paths"]


def test_the_schema_also_comes_as_yaml(study, client_for):
    response = client_for("token").get("/api/schema/")
    assert response.status_code == 200 and "openapi" in response["Content-Type"]
    assert yaml.safe_load(response.content)["info"]["title"] == "RESPECT API"


def test_reads_over_the_rate_get_429_with_retry_after(study, client_for, settings):
    settings.API_THROTTLE_RATES = {"user": "3/minute", "annotation": "2/minute"}
    api = client_for("token")
    assert [api.get("/api/rounds/").status_code for _ in range(3)] == [200, 200, 200]
    refused = api.get("/api/systems/")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "throttled" in refused.json()["detail"].lower()
    assert client_for("staff").get("/api/rounds/").status_code == 200  # per user, not for everyone


def test_annotation_calls_have_their_own_rate(study, client_for, settings):
    settings.API_THROTTLE_RATES = {"user": "100/minute", "annotation": "2/minute"}
    anna = client_for("annotator")
    url = f"/api/campaigns/{study['campaign'].pk}/next/"
    assert [anna.post(url).status_code for _ in range(2)] == [200, 200]
    assert anna.post(url).status_code == 429


@pytest.mark.parametrize("rate", ["fast", "10/week", "0/minute"])
def test_a_bad_rate_setting_is_a_clear_error(monkeypatch, rate):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import respect_site.settings as project_settings

    monkeypatch.setenv("API_THROTTLE_USER", rate)
    with pytest.raises(ImproperlyConfigured, match="API_THROTTLE_USER"):
        importlib.reload(project_settings)
    monkeypatch.delenv("API_THROTTLE_USER")
    importlib.reload(project_settings)
