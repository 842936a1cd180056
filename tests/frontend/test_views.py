import io

import pytest
from PIL import Image

pytestmark = pytest.mark.django_db


def test_home_shows_library_counts(client, config_library):
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Tangrams" in html and ">40<" in html and ">10<" in html  # 40 tangrams, 10 configs


def test_gallery_filters_by_split(client, tangram_library):
    html = client.get("/tangrams/?split=dev").content.decode()
    assert html.count('<img src="/tangrams/') == 10
    assert 'alt="Tangram gen7-' in html
    assert client.get("/tangrams/?split=bogus").status_code == 200  # unknown split: show all


def test_tangram_images(client, tangram_library):
    svg = client.get("/tangrams/gen7-0001.svg")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert svg.content.count(b"<polygon") == 7
    png = client.get("/tangrams/gen7-0001.png")
    assert Image.open(io.BytesIO(png.content)).size == (224, 224)
    assert "max-age" in png["Cache-Control"]
    assert client.get("/tangrams/nope.svg").status_code == 404


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_admin_is_read_only_for_staff(admin_client, config_library):
    from games.models import GameConfig

    config = GameConfig.objects.first()
    assert admin_client.get("/admin/games/gameconfig/").status_code == 200
    assert admin_client.get(f"/admin/games/gameconfig/{config.pk}/change/").status_code == 200
    assert admin_client.get("/admin/games/tangram/add/").status_code == 403
    assert admin_client.post(f"/admin/games/gameconfig/{config.pk}/delete/").status_code == 403
    for model in ["round", "system", "deployment", "participant", "interaction", "turn", "tangram"]:
        assert admin_client.get(f"/admin/games/{model}/").status_code == 200
    assert admin_client.get("/admin/training/policycheckpoint/").status_code == 200
    assert admin_client.get("/admin/games/interaction/?deployment__round__id__exact=1&status__exact=ended").status_code == 200
