"""The live sync card in a real browser (Chromium), at a laptop's size and a phone's: it
updates in place, every state tells the truth and offers only what helps, and no flow leaves
a console error or a failed request. A screenshot of every state goes to test-artifacts/e2e/
(`<state>-<size>.png`).

Each test runs daphne and (mostly) a worker in their own processes on the test database, fed
by the Graph sandbox; pages are opened logged in as inbox staff (`open_screen`)."""

from __future__ import annotations

import re
import signal
import time

import pytest
from playwright.sync_api import Page, expect

from pages.models import FacebookPage, SyncRun, WorkerHeartbeat
from tests.e2e.helpers import CHILD_ENV, VIEWPORTS
from tests.helpers import connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SIZES = list(VIEWPORTS)
# 5 conversations per listing page (about one Graph call per 5 conversations); the tests set
# each Graph call's latency (manage_env sets FACEBOOK_CALLS_PER_SECOND=0: no spacing of ours).
APP_ENV = {"SYNC_PAGE_SIZE": "5", "SYNC_REAPER_INTERVAL_SECONDS": "1", **CHILD_ENV}
CONVERSATIONS = 300
LIVE = 15_000  # ms: a live update arrives well within this (daphne polls every 0.3 s)
COMPLETE = 60_000

# Watches the live part from the browser itself: every node the bar was, every position it
# showed, every status line, and how many live updates arrived.
WATCH_CARD = """() => {
  const live = document.getElementById("live");
  const seen = { barNodes: 0, positions: [], statuses: [], updates: 0 };
  let bar = null;
  let version = null;
  const look = () => {
    const now = document.getElementById("sync-progress");
    if (now && now !== bar) { seen.barNodes += 1; bar = now; }
    if (now && now.hasAttribute("value")) seen.positions.push(now.value / now.max);
    const status = document.getElementById("sync-status");
    if (status) seen.statuses.push(status.textContent.replace(/\\s+/g, " ").trim());
    const shown = live.querySelector("[data-version]").dataset.version;
    if (shown !== version) { seen.updates += 1; version = shown; }
  };
  new MutationObserver(look).observe(live, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
  look();
  window.__card = seen;
}"""


BAR_FILL_TRANSITION = """() => {
  for (const sheet of document.styleSheets) {
    for (const rule of sheet.cssRules) {
      if ((rule.selectorText || "") === "progress.sync-bar::-webkit-progress-value") {
        return rule.style.transitionProperty;
      }
    }
  }
  return null;
}"""


def open_page_screen(open_screen, daphne, fb_page, size: str, **context_args):
    screen, errors = open_screen(daphne, size, **context_args)
    screen.goto(f"{daphne.url}/pages/{fb_page.pk}/")
    expect(screen.locator("#sync-card")).to_be_visible()
    return screen, errors


def shoot(screen: Page, artifacts, state: str, size: str) -> None:
    screen.screenshot(path=artifacts(f"{state}-{size}.png"), full_page=True)


def wait_until(predicate, timeout: float = 30, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, message or "timed out"
        time.sleep(0.05)


def press_once_settled(control) -> None:
    """Click a control that has just appeared with a new state, as a person would: after
    reading it. A control ignores clicks during its first second (static/js/progress.js)."""
    control.wait_for()
    control.page.wait_for_timeout(1100)
    control.click()


def status_line(screen: Page):
    return screen.locator("#sync-status")


@pytest.mark.parametrize("size", SIZES)
def test_a_first_sync_updates_the_card_in_place(
    size, make_graph_sandbox, start_daphne, start_worker, open_screen, artifacts
):
    server = make_graph_sandbox(conversations=CONVERSATIONS, seed=21, latency_ms=300)
    fb_page = connect(server)
    daphne = start_daphne(server, **APP_ENV)
    start_worker(server, **APP_ENV)
    # A reader far from the server's UTC: live updates are rendered in UTC for everyone.
    screen, errors = open_page_screen(open_screen, daphne, fb_page, size, timezone_id="Asia/Tokyo")
    card = screen.locator("#sync-card")
    expect(card).to_have_attribute("data-state", "none")
    shoot(screen, artifacts, "not-synced", size)
    screen.evaluate(WATCH_CARD)

    screen.get_by_role("button", name="Sync from Facebook").click()
    expect(status_line(screen)).to_contain_text(
        re.compile(rf"^Processing conversation #\d+ of {CONVERSATIONS}$"), timeout=LIVE
    )
    expect(screen.locator("#sync-counter")).to_contain_text("Inbox · 1 of 5 folders")
    # Between two updates the bar's fill slides to its new width: the rule is loaded (the
    # browser exposes no computed style of the fill itself to measure).
    assert screen.evaluate(BAR_FILL_TRANSITION) == "width"
    shoot(screen, artifacts, "running", size)

    # Focus on Cancel survives live updates: the button keeps its node.
    cancel = screen.locator("#cancel-button")
    cancel.focus()
    updates = screen.evaluate("window.__card.updates")
    screen.wait_for_timeout(3000)
    assert screen.evaluate("document.activeElement.id") == "cancel-button"
    assert screen.evaluate("window.__card.updates") - updates >= 3
    expect(card).to_have_attribute("data-status", "running")

    # A button is disabled while its request is in flight, and live updates do not undo it.
    # (This Cancel is answered by the test, never reaches the server: the sync goes on.)
    held = []
    screen.route("**/cancel/", lambda route: held.append(route))
    cancel.click()
    expect(cancel).to_be_disabled()
    updates = screen.evaluate("window.__card.updates")
    screen.wait_for_function("n => window.__card.updates >= n", arg=updates + 2, timeout=LIVE)
    expect(cancel).to_be_disabled()
    assert len(held) == 1
    held[0].fulfill(status=200, content_type="text/html", body="")
    expect(cancel).to_be_enabled()
    screen.unroute("**/cancel/")

    expect(card).to_have_attribute("data-status", "complete", timeout=COMPLETE)
    expect(card.locator(".percent")).to_have_text("100%")
    expect(card.locator("[data-counter=inserted]")).to_have_text(f"+{CONVERSATIONS}")
    # Times stay in the reader's timezone through every live update.
    started = screen.locator("#sync-history time[data-stamp]").first
    expect(started).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d GMT\+9$"))
    shoot(screen, artifacts, "complete", size)
    seen = screen.evaluate("window.__card")
    # One bar from the first update to the last, never moving back, ending full.
    assert seen["barNodes"] == 1
    assert seen["positions"] == sorted(seen["positions"])
    assert seen["positions"][-1] == 1
    # "of N" (N counted by the census) before a tenth of the conversations were processed.
    first = next(s for s in seen["statuses"] if re.search(r"#\d+ of \d+$", s))
    number, total = map(int, re.search(r"#(\d+) of (\d+)$", first).groups())
    assert total == CONVERSATIONS
    assert number - 1 < CONVERSATIONS / 10, first

    # A real double-click on Sync of a Page whose last sync completed starts one run and
    # does not cancel it (the second click never lands on a Cancel that just appeared). The
    # Sync button appeared with "complete": a person reads the card before pressing it (a
    # click within its first second would be refused, as a click on the new Cancel is).
    screen.wait_for_timeout(1000)
    before = SyncRun.objects.count()
    sync_button = screen.locator("#sync-button")
    sync_button.scroll_into_view_if_needed()
    box = sync_button.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    screen.mouse.click(x, y)
    screen.wait_for_timeout(150)
    screen.mouse.click(x, y)
    wait_until(lambda: SyncRun.objects.count() > before, message=f"no run: {errors}")
    run = SyncRun.objects.order_by("-id").first()
    wait_until(lambda: SyncRun.objects.get(pk=run.pk).status == "complete", timeout=30)
    run.refresh_from_db()
    assert SyncRun.objects.count() == before + 1
    assert (run.mode, run.cancel_requested) == ("incremental", False)
    expect(card).to_have_attribute("data-run", str(run.pk), timeout=LIVE)
    expect(card).to_have_attribute("data-status", "complete", timeout=LIVE)
    errors.assert_none()


@pytest.mark.parametrize("size", SIZES)
def test_without_a_worker_the_card_says_so_and_fresh_controls_refuse_clicks(
    size, make_graph_sandbox, start_daphne, start_worker, open_screen, artifacts
):
    server = make_graph_sandbox(conversations=20, seed=3)
    fb_page = connect(server)
    bare = FacebookPage.objects.create(facebook_id="100200300400", name="Added in the admin")
    daphne = start_daphne(server, **APP_ENV)
    worker = start_worker(server, **APP_ENV)
    wait_until(WorkerHeartbeat.objects.exists, message="the worker never beat")
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=15)
    screen, errors = open_page_screen(open_screen, daphne, fb_page, size)
    expect(screen.locator("#fact-workers")).to_contain_text("None running: last seen")

    # Pressed, the button is disabled until its answer arrives.
    held = []
    screen.route("**/sync/", lambda route: held.append(route))
    sync_button = screen.get_by_role("button", name="Sync from Facebook")
    sync_button.click()
    pressed = time.monotonic()
    expect(sync_button).to_be_disabled()
    for _ in range(50):
        if held:
            break
        screen.wait_for_timeout(100)  # lets Playwright hand the request to the route
    held[0].continue_()
    screen.unroute("**/sync/")
    # The Cancel that replaces it ignores a click for its first second...
    cancel = screen.locator("#cancel-button")
    cancel.click()
    appeared_for = time.monotonic() - pressed
    screen.wait_for_timeout(1200)
    run = SyncRun.objects.get(page=fb_page)
    assert (run.status, run.cancel_requested) == ("queued", False), appeared_for

    expect(status_line(screen)).to_have_text(
        "No worker is running: start manage.py run_worker", timeout=20_000
    )
    assert time.monotonic() - pressed < 20
    expect(screen.locator("#sync-progress")).to_have_class(re.compile(r"\bstill\b"))
    shoot(screen, artifacts, "queued-no-worker", size)

    # ...and then works: a queued run is cancelled at once.
    cancel.click()
    expect(status_line(screen)).to_have_text(
        "Cancelled before any conversation was copied.", timeout=LIVE
    )
    expect(screen.locator("#sync-actions button")).to_have_text(["Sync from Facebook"])

    # A Page without a token (added in the admin) offers Connect, never Resume.
    screen.goto(f"{daphne.url}/pages/{bare.pk}/")
    expect(screen.locator("#sync-title")).to_have_text("🔌 Not connected")
    expect(screen.get_by_role("link", name="Connect this Page")).to_be_visible()
    expect(screen.locator("#sync-actions button")).to_have_count(0)
    shoot(screen, artifacts, "not-connected", size)
    errors.assert_none()


@pytest.mark.parametrize("size", SIZES)
def test_counting_cancelling_and_cancelled(
    size, make_graph_sandbox, start_daphne, start_worker, open_screen, artifacts
):
    # Slow Graph calls: the census and a cancel waiting for the call in flight last seconds.
    server = make_graph_sandbox(conversations=150, seed=8, latency_ms=2000)
    fb_page = connect(server)
    env = {**APP_ENV, "SYNC_PAGE_SIZE": "25"}
    daphne = start_daphne(server, **env)
    start_worker(server, **env)
    screen, errors = open_page_screen(open_screen, daphne, fb_page, size)
    card = screen.locator("#sync-card")

    screen.get_by_role("button", name="Sync from Facebook").click()
    expect(card).to_have_attribute("data-state", "census", timeout=LIVE)
    expect(status_line(screen)).to_contain_text("Counting conversations")
    shoot(screen, artifacts, "census", size)

    # Cancel once a few conversations are in (before the first, it would cancel at #0).
    expect(status_line(screen)).to_contain_text(re.compile(r"#([3-9]|\d{2,}) of 150"), timeout=LIVE)
    screen.get_by_role("button", name="Cancel").click()
    expect(card).to_have_attribute("data-status", "cancelling", timeout=LIVE)
    shoot(screen, artifacts, "cancelling", size)
    expect(card).to_have_attribute("data-status", "cancelled", timeout=LIVE)
    run = SyncRun.objects.get(page=fb_page)
    expect(status_line(screen)).to_have_text(f"Cancelled at conversation {run.current} of 150.")
    expect(screen.locator("#sync-actions button")).to_have_text(
        [re.compile(r"Resume sync$"), "Start over (full re-sync)"]
    )
    assert "#0" not in card.inner_text()
    shoot(screen, artifacts, "cancelled", size)
    errors.assert_none()


@pytest.mark.parametrize("size", SIZES)
def test_a_rate_limit_pause_then_a_failure(
    size, make_graph_sandbox, start_daphne, start_worker, open_screen, artifacts
):
    server = make_graph_sandbox(conversations=120, seed=5, latency_ms=50)
    fb_page = connect(server)
    env = {**APP_ENV, "SYNC_MAX_INLINE_PAUSE_SECONDS": "1"}
    daphne = start_daphne(server, **env)
    start_worker(server, **env)
    screen, errors = open_page_screen(open_screen, daphne, fb_page, size)
    card = screen.locator("#sync-card")

    server.sandbox.inject("rate_limit", code=80006, estimated_minutes=2, after_calls=4)
    screen.get_by_role("button", name="Sync from Facebook").click()
    expect(card).to_have_attribute("data-status", "paused", timeout=LIVE)
    countdown = screen.locator("#sync-status time[data-countdown]")
    expect(countdown).to_have_text(re.compile(r"^1 min \d+ s$"))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3000)  # it ticks
    expect(screen.locator("#sync-progress")).to_have_class(re.compile(r"\bstill\b"))
    shoot(screen, artifacts, "paused", size)

    screen.get_by_role("button", name="Cancel").click()
    expect(card).to_have_attribute("data-status", "cancelled", timeout=LIVE)
    server.sandbox.inject("policy_block", after_calls=1)
    press_once_settled(screen.get_by_role("button", name="Start over (full re-sync)"))
    expect(card).to_have_attribute("data-status", "failed", timeout=LIVE)
    expect(card.locator(".error")).to_contain_text("policy")
    assert SyncRun.objects.order_by("-id").first().mode == "full"
    shoot(screen, artifacts, "failed", size)
    errors.assert_none()


@pytest.mark.parametrize("size", SIZES)
def test_a_rejected_token_then_a_reconnect(
    size, make_graph_sandbox, start_daphne, start_worker, open_screen, artifacts
):
    server = make_graph_sandbox(conversations=120, seed=6, latency_ms=50)
    fb_page = connect(server)
    daphne = start_daphne(server, **APP_ENV)
    start_worker(server, **APP_ENV)
    screen, errors = open_page_screen(open_screen, daphne, fb_page, size)
    card = screen.locator("#sync-card")

    server.sandbox.inject("token_expired", after_calls=4)
    screen.get_by_role("button", name="Sync from Facebook").click()
    expect(card).to_have_attribute("data-state", "needs_reconnect", timeout=LIVE)
    expect(screen.get_by_role("button", name="Resume sync")).to_have_count(0)
    shoot(screen, artifacts, "needs-reconnect", size)

    server.sandbox.set_token(fb_page.facebook_id, "EAAB-fresh-token")
    screen.get_by_label("New access token").fill("EAAB-fresh-token")
    press_once_settled(screen.get_by_role("button", name="Reconnect"))
    expect(card).to_have_attribute("data-state", "reconnected", timeout=LIVE)
    expect(screen.locator("#fact-connection")).to_have_text("Connected")
    assert "rejected" not in screen.locator("main").inner_text()
    shoot(screen, artifacts, "reconnected", size)

    screen.get_by_role("button", name="Resume sync").click()
    expect(card).to_have_attribute("data-status", "complete", timeout=COMPLETE)
    assert "rejected" not in screen.locator("main").inner_text()
    errors.assert_none()
