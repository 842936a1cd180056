"""The annotation pages of the admin in a real browser: an annotator labels turns with the keyboard only,
cannot open other admin pages, and two annotators at once never share a turn beyond the overlap."""
import pytest
from django.contrib.auth.models import Group, User
from django.db.models import Count, Q
from django.utils import timezone

from feedback.models import Annotation, CampaignTurn
from feedback.services.annotation import create_campaign
from tests.factories import CheckpointFactory, DeploymentFactory, RoundFactory, SystemFactory
from tests.feedback.conftest import record_game

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 15_000


@pytest.fixture
def turns(game_library):
    """Round 1, one system, two ended games of three model turns (6 eligible turns)."""
    now = timezone.now()
    round_ = RoundFactory(number=1, status="closed", opened_at=now, closed_at=now)
    deployment = DeploymentFactory(round=round_, system=SystemFactory(name="B-SUP", decoder="lexicon"),
                                   checkpoint=CheckpointFactory())
    moves = [("the swan", "select A"), ("no, not that", "deselect A select B"), ("great, and the dog", "select C")]
    for _ in range(2):
        record_game(deployment, moves, end="speaker_idle")


def make_annotator(name: str) -> User:
    user = User.objects.create_user(name, password=f"secret-{name}", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name="annotator")[0])
    return user


def log_in(page, base: str, name: str) -> None:
    """Log in through the admin's login form, typing only."""
    page.goto(base + "/admin/login/")
    page.focus("#id_username")  # the admin's login form focuses it by itself too
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(f"secret-{name}")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def served_entry(page) -> int | None:
    form = page.locator("#ann-form")
    return int(form.get_attribute("data-turn")) if form.count() else None


def press_and_wait(page, key: str) -> None:
    with page.expect_navigation(timeout=WAIT_MS):
        page.keyboard.press(key)


def test_an_annotator_labels_three_turns_with_the_keyboard(page, live_server, turns):
    campaign = create_campaign(name="pilot", sample_size=6, seed=4)
    user = make_annotator("ann")
    base = live_server.url
    log_in(page, base, "ann")
    assert page.url.endswith("/admin/feedback/annotationcampaign/annotate/")  # the admin index sends her here
    page.goto(f"{base}/admin/feedback/annotationcampaign/annotate/{campaign.pk}/")
    assert page.locator(".ann-image svg").count() == 10
    assert "Keyboard shortcuts" in page.content()

    # Enter without labels is refused in the page: nothing is sent.
    first = served_entry(page)
    page.keyboard.press("Enter")
    assert page.locator("#ann-error").is_visible()
    assert served_entry(page) == first

    # 1: positive, exactly right.
    page.keyboard.press("1")
    page.keyboard.press("y")
    press_and_wait(page, "Enter")
    # 2: negative, wrong, satisfied anyway; gold action = images B and C (clicked by key), with a note.
    second = served_entry(page)
    assert second != first
    for key in ["3", "n", "x", "b", "c"]:
        page.keyboard.press(key)
    assert page.locator("#ann-gold-given").is_checked()
    assert page.locator(".ann-image.gold-clicked").count() == 2
    page.keyboard.press("m")
    page.keyboard.type("speaker said thanks")
    page.keyboard.press("Escape")
    press_and_wait(page, "Enter")
    # 3: neutral, partly right.
    third = served_entry(page)
    assert third not in (first, second)
    for key in ["2", "p", "z"]:
        page.keyboard.press(key)
    press_and_wait(page, "Enter")
    # S skips the fourth turn.
    fourth = served_entry(page)
    press_and_wait(page, "s")
    assert served_entry(page) not in (first, second, third, fourth)

    done = {a.entry_id: a for a in Annotation.objects.filter(annotator=user, status="done")}
    assert set(done) == {first, second, third}
    assert (done[first].feedback, done[first].correctness, done[first].gold_selected) == ("positive", "yes", None)
    gold = done[second]
    assert (gold.feedback, gold.correctness, gold.flags, gold.note) == (
        "negative", "no", ["incorrect_satisfaction"], "speaker said thanks")
    entry = CampaignTurn.objects.select_related("turn__interaction__config").get(pk=second)
    order = [r.tangram.name for r in entry.turn.interaction.config.context_images.order_by("listener_position")]
    before = set(entry.turn.selection_before)
    clicked = {order[1], order[2]}
    assert gold.gold_selected == sorted(clicked - before) and gold.gold_deselected == sorted(clicked & before)
    assert (done[third].feedback, done[third].correctness, done[third].flags) == (
        "neutral", "partial", ["partial_satisfaction"])
    assert Annotation.objects.get(entry_id=fourth, annotator=user).status == "skipped"

    # No other admin page opens for an annotator.
    for url in ["/admin/games/interaction/", "/admin/auth/user/", "/admin/feedback/annotationcampaign/",
                f"/admin/feedback/annotationcampaign/{campaign.pk}/report/"]:
        assert page.goto(base + url).status == 403, url


def test_two_annotators_at_once_never_share_a_turn_beyond_the_overlap(browser, live_server, turns):
    campaign = create_campaign(name="pair", sample_size=6, seed=1, annotators_per_turn=1)
    base = live_server.url
    pages = []
    for name in ("ann", "bob"):
        make_annotator(name)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        log_in(page, base, name)
        pages.append(page)
    url = f"{base}/admin/feedback/annotationcampaign/annotate/{campaign.pk}/"
    seen: dict[str, list[int]] = {"ann": [], "bob": []}
    for page in pages:
        page.goto(url)
    for _ in range(3):
        for name, page in zip(("ann", "bob"), pages):
            entry = served_entry(page)
            assert entry is not None
            seen[name].append(entry)
            page.keyboard.press("1")
            page.keyboard.press("y")
            press_and_wait(page, "Enter")
    assert all(served_entry(page) is None for page in pages)  # six turns, each annotated once
    assert "Nothing left to annotate" in pages[0].content()
    assert not set(seen["ann"]) & set(seen["bob"])
    assert len(set(seen["ann"]) | set(seen["bob"])) == 6
    live = Q(annotations__status="done") | Q(annotations__status="claimed")
    assert max(CampaignTurn.objects.filter(campaign=campaign).annotate(n=Count("annotations", filter=live))
               .values_list("n", flat=True)) == 1
    for page in pages:
        page.context.close()
