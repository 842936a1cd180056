import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_and_gallery_in_a_real_browser(page, live_server, tangram_library):
    page.goto(live_server.url + "/")
    assert page.get_by_role("heading", name="Tangrams").is_visible()
    page.get_by_role("link", name="Tangrams").click()
    page.wait_for_url("**/tangrams/")
    page.get_by_role("link", name="dev").click()
    images = page.get_by_role("img")
    assert images.count() == 10
    # Every figure loads as an image with an accessible name.
    first = images.first
    first.scroll_into_view_if_needed()
    assert first.get_attribute("alt").startswith("Tangram gen7-")
    assert page.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
