"""Annotators asking for turns at the same moment (threads, each with its own database connection)
never exceed a campaign's overlap. SQLite runs in a file here (IMMEDIATE transactions serialize the
writers); on PostgreSQL the campaign row lock (select_for_update) does."""
import threading

import pytest
from django.db import connection
from django.db.models import Count, Q

from feedback.models import CampaignTurn
from feedback.services.annotation import create_campaign, next_annotation
from tests.feedback.test_annotation import annotator, study  # noqa: F401  (the fixture)
from tests.live_server import use_a_file_test_database

use_a_file_test_database()

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("overlap", [1, 2])
def test_simultaneous_requests_never_exceed_the_overlap(study, overlap):
    campaign = create_campaign(name=f"race-{overlap}", sample_size=3, annotators_per_turn=overlap)
    users = [annotator(f"u{i}") for i in range(8)]
    start = threading.Barrier(len(users))
    errors, served = [], []

    def ask(user):
        try:
            start.wait()
            served.append(next_annotation(campaign.pk, user))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    claims = [a for a in served if a is not None]
    assert len(claims) == 3 * overlap  # every place taken, and no more
    live = Q(annotations__status="claimed") | Q(annotations__status="done")
    counts = CampaignTurn.objects.filter(campaign=campaign).annotate(n=Count("annotations", filter=live))
    assert sorted(counts.values_list("n", flat=True)) == [overlap] * 3
