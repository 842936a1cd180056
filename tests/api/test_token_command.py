import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_staff_get_a_token_that_reads_the_api(users, db):
    key, said = run("researcher")
    assert len(key) == 40 and "new token of researcher" in said
    assert run("researcher")[0] == key
    new_key, _ = run("researcher", "--reset")
    assert new_key != key
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {new_key}")
    assert api.get("/api/rounds/").status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/rounds/").status_code == 401


def test_an_annotator_token_only_annotates(users, db):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {run('anna')[0]}")
    assert api.get("/api/rounds/").status_code == 403
    assert api.get("/api/campaigns/open/").status_code == 200


@pytest.mark.parametrize(("username", "says"), [
    ("ghost", "there is no user named 'ghost'"),
    ("visitor", "neither staff nor an annotator"),
    ("sleeper", "inactive"),
])
def test_refusals_are_one_line_and_make_no_token(db, username, says):
    from rest_framework.authtoken.models import Token

    User.objects.create_user("visitor")
    User.objects.create_user("sleeper", is_staff=True, is_active=False)
    with pytest.raises(CommandError, match=says):
        run(username)
    assert Token.objects.count() == 0
