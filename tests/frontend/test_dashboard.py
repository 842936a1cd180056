"""The staff dashboard: staff only, and it shows the report's tables and plots."""
import io

import pytest
from PIL import Image

from tests.factories import CheckpointFactory, RoundFactory, SystemFactory
from training.models import TrainingRun

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_log_in(client):
    for url in ("/dashboard/", "/dashboard/files/success.png"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next=")
    assert client.post("/dashboard/").status_code == 302


def test_people_who_are_not_staff_are_refused(client, django_user_model, settings):
    client.force_login(django_user_model.objects.create_user("annotator", password="x"))
    assert client.get("/dashboard/").status_code == 403
    assert client.post("/dashboard/").status_code == 403
    assert not (settings.DATA_DIR / "reports").exists()  # the refused post wrote nothing


def test_staff_regenerate_the_report_and_see_its_tables_and_plots(admin_client, settings):
    empty = admin_client.get("/dashboard/")
    assert empty.status_code == 200 and "No report yet" in empty.content.decode()
    TrainingRun.objects.create(
        system=SystemFactory(name="B-SUP"), round=RoundFactory(number=1), objective="sup",
        initial_checkpoint=CheckpointFactory(), loss_curve=[[1, 2.0], [2, 1.25]], dataset_stats={"rows": 12},
    )
    response = admin_client.post("/dashboard/", follow=True)
    html = response.content.decode()
    assert response.status_code == 200 and "The report was regenerated." in html
    assert '<a href="/dashboard/">Dashboard</a>' in html  # staff see it in the site's navigation
    for table in ("outcomes", "language", "annotations", "decoders", "confusion", "training", "losses"):
        assert f'data-table="{table}"' in html or f'id="table-{table}"' in html
    assert '<table class="report-table" data-table="training">' in html
    assert "<td>B-SUP</td>" in html and "<td>1.250</td>" in html  # the training row, numbers to 3 decimals
    for plot in ("success.png", "turns.png", "click_accuracy.png", "language.png", "losses.png"):
        assert f'src="/dashboard/files/{plot}"' in html
        image = admin_client.get(f"/dashboard/files/{plot}")
        assert image.status_code == 200 and image["Content-Type"] == "image/png"
        assert Image.open(io.BytesIO(b"".join(image.streaming_content))).format == "PNG"
    table = admin_client.get("/dashboard/files/training.csv")
    assert b"".join(table.streaming_content).decode().splitlines()[1].startswith("1,B-SUP,sup,")
    assert admin_client.get("/dashboard/files/report.json").status_code == 404  # only listed CSVs and PNGs
    assert admin_client.get("/dashboard/files/..%2Fsecret.png").status_code == 404
    assert (settings.DATA_DIR / "reports" / "dashboard" / "report.json").is_file()
