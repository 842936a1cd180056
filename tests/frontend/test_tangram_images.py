"""Tangram images answered by the ASGI server before Django (frontend/tangram_images.py): the same
bytes and headers as Django's views, conditional requests, everything else left to Django, and a
figure kept in memory for as long as browsers may keep it."""
import pytest
from channels.db import database_sync_to_async

from frontend.tangram_images import MAX_AGE_SECONDS, TangramImages, not_modified
from games.consumers import database_call
from games.models import Tangram
from respect_site.asgi import application, django_asgi_app
from tests.asgi_http import http

pytestmark = [pytest.mark.django_db(transaction=True)]
async_test = pytest.mark.asyncio

NAME = "gen7-0001"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def delete(name: str) -> None:
    Tangram.objects.filter(name=name).delete()


@async_test
@pytest.mark.parametrize("kind, content_type", [("svg", "image/svg+xml"), ("png", "image/png")])
async def test_the_server_answers_an_image_with_djangos_bytes_and_headers(tangram_library, async_client, kind, content_type):
    status, headers, body = await http(application, f"/tangrams/{NAME}.{kind}")
    from_django = await async_client.get(f"/tangrams/{NAME}.{kind}")
    assert status == 200 and from_django.status_code == 200
    assert body == from_django.content and len(body) > 100
    assert headers["content-type"] == from_django["Content-Type"] == content_type
    assert headers["cache-control"] == from_django["Cache-Control"] == f"public, max-age={MAX_AGE_SECONDS}"
    assert headers["etag"] == from_django["ETag"]
    assert headers["content-length"] == str(len(body))
    assert headers["x-content-type-options"] == "nosniff"


@async_test
async def test_a_browser_holding_the_image_gets_304_and_head_gets_no_body(tangram_library):
    _, headers, body = await http(application, f"/tangrams/{NAME}.svg")
    status, again, empty = await http(application, f"/tangrams/{NAME}.svg",
                                      headers=((b"if-none-match", f'W/"other", {headers["etag"]}'.encode()),))
    assert (status, empty) == (304, b"") and again["etag"] == headers["etag"]
    status, _, changed = await http(application, f"/tangrams/{NAME}.svg", headers=((b"if-none-match", b'"other"'),))
    assert (status, changed) == (200, body)
    status, head, nothing = await http(application, f"/tangrams/{NAME}.svg", method="HEAD")
    assert (status, nothing, head["content-length"]) == (200, b"", str(len(body)))


@async_test
async def test_what_is_not_a_stored_figure_is_answered_by_django(tangram_library):
    status, _, body = await http(application, "/tangrams/nope.svg")
    assert status == 404
    status, headers, body = await http(application, "/tangrams/")
    assert status == 200 and headers["content-type"].startswith("text/html") and b"/tangrams/" in body
    status, headers, _ = await http(application, f"/tangrams/{NAME}.svg", method="OPTIONS")
    assert status == 405 and headers["allow"] == "GET"
    assert (await http(application, f"/tangrams/{NAME}.gif"))[0] == 404


@async_test
async def test_a_figure_served_once_is_served_from_memory_until_its_max_age(tangram_library):
    clock = Clock()
    app = TangramImages(django_asgi_app, database_call, clock=clock)
    status, _, body = await http(app, f"/tangrams/{NAME}.png")
    assert status == 200
    await database_sync_to_async(delete)(NAME)
    clock.now += MAX_AGE_SECONDS - 1
    assert (await http(app, f"/tangrams/{NAME}.png"))[::2] == (200, body)  # the database was not asked
    clock.now += 2
    assert (await http(app, f"/tangrams/{NAME}.png"))[0] == 404  # kept no longer than browsers keep it


@async_test
async def test_the_memory_keeps_the_most_recently_served_figures(tangram_library):
    app = TangramImages(django_asgi_app, database_call, max_images=2)
    names = ["gen7-0001", "gen7-0002", "gen7-0003"]
    for name in names:
        assert (await http(app, f"/tangrams/{name}.svg"))[0] == 200
    for name in names:
        await database_sync_to_async(delete)(name)
    assert [(await http(app, f"/tangrams/{name}.svg"))[0] for name in reversed(names)] == [200, 200, 404]


def test_if_none_match_names_the_tag_or_everything():
    assert not_modified('"a"', '"a"') and not_modified('W/"a"', '"a"') and not_modified("*", '"a"')
    assert not_modified('"b", "a"', '"a"') and not not_modified('"b"', '"a"')
