"""The participant journey and live games in a real browser, against the real ASGI app.

pytest-django's ``live_server`` is a WSGI server without websockets, so this module runs Daphne
(pages, static files and websockets) in a forked process, as
``channels.testing.ChannelsLiveServerTestCase`` does. Everything runs as in the embedded default:
in-memory channel layer, bots in an in-process thread, timers in the server.
"""
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.live_server import daphne_server, use_a_file_test_database

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts"
FAST = {"timing": {"bot_min_delay_seconds": 0}}
WAIT_MS = 15_000  # generous for slow machines; every wait ends as soon as the page is ready
expect.set_options()


use_a_file_test_database()


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """Daphne serving respect_site.asgi in a forked process; yields its base URL."""
    yield from daphne_server(django_db_blocker)


@pytest.fixture
def js_errors():
    """Uncaught errors of every page opened with new_page; none may happen."""
    errors = []
    yield errors
    assert not errors


def new_page(browser, errors: list, frames: list | None = None):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    context.on("page", lambda page: page.on("pageerror", lambda error: errors.append(str(error))))
    page = context.new_page()
    if frames is not None:  # record every websocket frame the page receives
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(payload)))
    return page


def enter_and_consent(page, server: str, worker: str) -> None:
    page.goto(
        f"{server}/play/?workerId={worker}&assignmentId=A-{worker}&hitId=H1"
        "&turkSubmitTo=https://workersandbox.mturk.com"
    )
    page.get_by_role("button", name="I am 18 or older and I agree to take part").click()
    expect(page.get_by_role("heading", name="How to play")).to_be_visible()


def say(page, text: str) -> None:
    field = page.get_by_label("Your message")
    expect(field).to_be_enabled()
    field.fill(text)
    field.press("Enter")  # Enter sends


def tile(page, image: str):
    return page.locator(f'#board .tile[data-image="{image}"]')


def answer_survey(page) -> int:
    expect(page.get_by_role("heading", name="A few questions")).to_be_visible()
    questions = page.locator("form.survey fieldset")
    for i in range(questions.count()):
        questions.nth(i).get_by_role("radio", name="5").check()
    return questions.count()


def test_participant_goes_from_the_entry_link_to_the_completion_code(server, browser, config_library, js_errors):
    from games.models import Interaction, Participant
    from games.services.rounds import create_system, launch_round

    create_system("ORACLE", listener_kind="oracle")
    launch_round(systems=[("ORACLE", None)], split="dev", settings=FAST)
    page = new_page(browser, js_errors)

    enter_and_consent(page, server, "W1")
    page.get_by_role("button", name="Start the practice game").click()
    page.wait_for_url("**/play/game/*/")
    expect(page.get_by_role("heading", name="Practice: you are the speaker")).to_be_visible()
    # A second tab of the same player takes the seat over; the first one says so and stays quiet.
    second = page.context.new_page()
    second.goto(page.url)
    expect(page.locator("#connection")).to_contain_text("open in another tab")
    expect(page.get_by_label("Your message")).to_be_disabled()
    page.close()
    page = second
    practice = Interaction.objects.get(purpose="practice")
    expect(page.locator("#board .tile")).to_have_count(10)
    expect(page.locator("#board .tile.target")).to_have_count(practice.config.num_targets)
    expect(page.locator("#turn-counter")).to_have_text("Turn 1 of 10")
    say(page, "the tall one with a hat, and the two birds")
    expect(page.locator("#outcome")).to_contain_text("Practice complete")
    expect(page.locator("#chat")).to_contain_text("the tall one with a hat, and the two birds")
    expect(page.locator("#board .tile.correct")).to_have_count(practice.config.num_targets)

    page.get_by_role("link", name="Back to the instructions").click()
    page.get_by_role("button", name="Go to the lobby").click()
    page.wait_for_url("**/play/game/*/")  # the lobby matched us with the oracle
    expect(page.get_by_role("heading", name="You are the speaker")).to_be_visible()
    say(page, "pick the bird")
    expect(page.locator("#outcome")).to_contain_text("Correct!")

    page.get_by_role("link", name="Continue to the survey").click()
    assert answer_survey(page) == 2  # the speaker's questions
    page.get_by_label("Any other comments? (optional)").fill("fun")
    page.get_by_role("button", name="Finish").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    participant = Participant.objects.get()
    assert participant.completion_code and participant.bonus > 0
    expect(page.locator("#completion-code")).to_have_text(participant.completion_code)
    expect(page.locator("#bonus")).to_have_text(f"${participant.bonus}")
    page.context.close()


def test_two_people_play_a_game_to_success(server, browser, config_library, js_errors):
    from games.models import Interaction, Participant
    from games.services.rounds import create_system, launch_round

    create_system("HH", listener_kind="human")
    launch_round(systems=[("HH", None)], split="dev", settings=FAST)
    frames = ([], [])
    pages = [new_page(browser, js_errors, frames[0]), new_page(browser, js_errors, frames[1])]
    for i, page in enumerate(pages):
        enter_and_consent(page, server, f"HH{i}")
    Participant.objects.update(practiced=True)  # the practice game is covered above
    for page in pages:
        page.reload()
        page.get_by_role("button", name="Go to the lobby").click()
        if page is pages[0]:  # alone in the lobby for now
            expect(page.locator("#lobby-waited")).to_contain_text("Waiting for 0:0")
    for page in pages:
        page.wait_for_url("**/play/game/*/")
    roles = [page.locator("#game").get_attribute("data-role") for page in pages]
    assert sorted(roles) == ["listener", "speaker"]
    speaker, listener = pages if roles[0] == "speaker" else pages[::-1]
    listener_frames = frames[roles.index("listener")]

    game = Interaction.objects.get(purpose="study")
    rows = game.config.context_images.select_related("tangram")
    targets = sorted(r.tangram.name for r in rows if r.is_target)
    others = sorted(r.tangram.name for r in rows if not r.is_target)
    submit = listener.get_by_role("button", name="Submit selection")
    expect(submit).to_be_disabled()

    # Turn 1: one right and one wrong pick.
    say(speaker, "the bird with a long <b>neck</b>")
    expect(listener.locator("#chat li p")).to_have_text(["the bird with a long <b>neck</b>"])
    assert listener.locator("#chat b").count() == 0  # shown as text, never as HTML
    expect(submit).to_be_enabled()
    for image in (targets[0], others[0]):
        tile(listener, image).click()
        expect(tile(listener, image)).to_have_attribute("aria-pressed", "true")
    submit.click()

    # The speaker sees the pick framed: green with a tick, red (dashed) with a cross.
    expect(tile(speaker, targets[0])).to_have_class(re.compile(r"\bcorrect\b"))
    expect(tile(speaker, others[0])).to_have_class(re.compile(r"\bwrong\b"))
    expect(tile(speaker, others[0]).locator(".badge")).to_have_text("✗ Wrong")
    expect(tile(speaker, targets[0]).locator(".badge")).to_have_text("✓ Right")
    expect(speaker.locator("#turn-counter")).to_have_text("Turn 2 of 10")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    speaker.screenshot(path=ARTIFACTS / "game-page.png")
    speaker.set_viewport_size({"width": 400, "height": 860})
    speaker.screenshot(path=ARTIFACTS / "game-page-narrow.png", full_page=True)
    listener.set_viewport_size({"width": 400, "height": 860})
    listener.screenshot(path=ARTIFACTS / "game-page-listener-narrow.png", full_page=True)
    speaker.set_viewport_size({"width": 1280, "height": 800})

    # Turn 2: undo the wrong one, add the rest.
    say(speaker, "keep the bird, drop the boat, and take the others")
    expect(submit).to_be_enabled()
    for image, pressed in [(others[0], "false")] + [(t, "true") for t in targets[1:]]:
        tile(listener, image).click()
        expect(tile(listener, image)).to_have_attribute("aria-pressed", pressed)
    submit.click()
    for page in (speaker, listener):
        expect(page.locator("#outcome")).to_contain_text("Correct!")
    expect(speaker.locator("#board .tile.correct")).to_have_count(len(targets))

    # The listener never learns the targets or correctness: not on the page, not on the wire.
    assert listener.locator(".target, .correct, .wrong").count() == 0
    assert "Target" not in listener.locator("#board").inner_text()
    states = [json.loads(f)["state"] for f in listener_frames if isinstance(f, str) and '"state"' in f]
    assert states and all("targets" not in s and "feedback" not in s for s in states)

    for page, questions in ((speaker, 2), (listener, 4)):
        page.get_by_role("link", name="Continue to the survey").click()
        assert answer_survey(page) == questions
    for page in pages:
        page.context.close()


def test_a_draft_is_sent_when_time_runs_out_and_an_idle_game_ends(server, browser, config_library, js_errors):
    from games.services.rounds import create_system, launch_round

    create_system("ORACLE", listener_kind="oracle")
    timing = {"bot_min_delay_seconds": 0, "speaker_seconds": 2, "idle_grace_seconds": 0.5}
    launch_round(systems=[("ORACLE", None)], split="dev", settings={"timing": timing})
    page = new_page(browser, js_errors)
    enter_and_consent(page, server, "W2")

    # Nothing typed: the server ends the game when the speaker's window closes.
    page.get_by_role("button", name="Start the practice game").click()
    expect(page.locator("#outcome")).to_contain_text("Time ran out")
    expect(page.locator("#outcome")).to_contain_text("another practice game")

    # Typed but not sent: the draft goes out at zero, as in the original game.
    page.get_by_role("link", name="Back to the instructions").click()
    page.get_by_role("button", name="Start the practice game").click()
    field = page.get_by_label("Your message")
    expect(field).to_be_enabled()
    field.fill("the one like a swan")
    expect(page.locator("#outcome")).to_contain_text("Practice complete")
    expect(page.locator("#chat li p")).to_have_text(["the one like a swan"])
    page.context.close()


def test_the_game_page_reconnects_after_a_drop_but_not_when_refused(server, browser, config_library, js_errors):
    from games.services.rounds import create_system, launch_round

    create_system("ORACLE", listener_kind="oracle")
    launch_round(systems=[("ORACLE", None)], split="dev", settings=FAST)
    page = new_page(browser, js_errors)
    sockets = []
    refuse = []

    def route(ws):
        # Playwright stands between the page and the server: drop the first connection, refuse
        # every connection once `refuse` is set, pass the others through to the real server.
        sockets.append(ws)
        if refuse:
            ws.close(code=4403)
        elif len(sockets) == 1:
            ws.close(code=4000, reason="network went away")
        else:
            ws.connect_to_server()

    page.route_web_socket(re.compile(r"/ws/play/"), route)
    enter_and_consent(page, server, "W3")
    page.get_by_role("button", name="Start the practice game").click()
    say(page, "the one like a teapot")  # only possible once the page has reconnected
    expect(page.locator("#outcome")).to_contain_text("Practice complete")
    assert len(sockets) == 2

    refuse.append(True)
    page.reload()
    expect(page.locator("#connection")).to_contain_text("This game is not yours")
    expect(page.get_by_label("Your message")).to_be_disabled()
    page.context.close()
