"""The sync screen in a real browser: Chromium against a real daphne (SSE) and a real
`run_worker` in other processes, on the test database, fed by the Graph sandbox.

One story, as staff live it: log in, open the Page, sync and watch the counters rise, cancel,
see where progress was saved, resume, reload mid-sync and keep watching, reach "Sync complete"
with exactly what Facebook holds, without a console error or a failed request. A screenshot of
each state goes to test-artifacts/e2e/ (every state at both sizes: test_live_card.py).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from conversations.models import Conversation
from pages.models import SyncRun
from tests.e2e.helpers import CHILD_ENV, BrowserErrors
from tests.helpers import connect, create_inbox_staff
from tests.truth import assert_matches_truth, expected_counts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# 300 conversations, 5 per listing page (the listing embeds the messages, so about one Graph
# call per 5 conversations), 150 ms per Graph call: the sync lasts about 10 s, long enough to
# cancel, resume and reload in the middle of it, and the test stays well under a minute.
# (manage_env already sets FACEBOOK_CALLS_PER_SECOND=0: no spacing of our own between calls.)
CONVERSATIONS = 300
APP_ENV = {"SYNC_PAGE_SIZE": "5", **CHILD_ENV}
LATENCY_MS = 150
PASSWORD = "e2e-Staff-password-7"

LIVE = 15_000  # ms: a live update (SSE, woken by daphne's 0.3 s poll) arrives well within this
COMPLETE = 60_000  # ms: the rest of the sync

COUNTER_ABOVE = """([name, min]) => {
    const el = document.querySelector(`#sync-card [data-counter=${name}]`);
    return el !== null && parseInt(el.textContent.replace(/\\D/g, ''), 10) > min;
}"""


def counter(browser_page: Page, name: str = "inserted") -> int:
    text = browser_page.locator(f"#sync-card [data-counter={name}]").inner_text()
    return int(re.sub(r"\D", "", text))


def wait_for_counter_above(browser_page: Page, value: int, name: str = "inserted") -> int:
    """Wait (in the browser, no reload) until the counter exceeds value; return the new one."""
    browser_page.wait_for_function(COUNTER_ABOVE, arg=[name, value], timeout=LIVE, polling=50)
    return counter(browser_page, name)


def mark_document(browser_page: Page) -> None:
    browser_page.evaluate("window.__e2eSameDocument = true")


def assert_same_document(browser_page: Page) -> None:
    """The page was not reloaded since mark_document: what changed came over SSE."""
    assert browser_page.evaluate("window.__e2eSameDocument === true")


def sync_card(browser_page: Page) -> Locator:
    return browser_page.locator("#sync-card")


def test_sync_ui_live_progress_cancel_resume_reload_complete(
    make_graph_sandbox, start_daphne, start_worker, context, artifacts
):
    server = make_graph_sandbox(conversations=CONVERSATIONS, seed=21, latency_ms=LATENCY_MS)
    fb_page = connect(server)
    truth = server.sandbox.truth(fb_page.facebook_id)
    expected = expected_counts(truth)
    assert expected["conversations"] == CONVERSATIONS
    create_inbox_staff(password=PASSWORD)
    daphne = start_daphne(server, **APP_ENV)
    start_worker(server, **APP_ENV)
    browser_page = context.new_page()  # our `page` fixture is a FacebookPage
    errors = BrowserErrors.watch(browser_page, daphne.url)
    card = sync_card(browser_page)

    # Log in through the form, then open the Page from the list.
    browser_page.goto(daphne.url)
    expect(browser_page).to_have_url(re.compile(r"/login/"))
    browser_page.get_by_label("Username").fill("staff")
    browser_page.get_by_label("Password").fill(PASSWORD)
    browser_page.get_by_role("button", name="Log in").click()
    expect(browser_page.get_by_role("heading", name="Facebook Pages")).to_be_visible()
    browser_page.get_by_role("link", name=fb_page.name, exact=True).click()
    expect(browser_page.get_by_role("heading", level=1)).to_have_text(fb_page.name)
    expect(card).to_have_attribute("data-status", "none")

    # Sync: the counters rise live, through at least three distinct values.
    browser_page.get_by_role("button", name="Sync from Facebook").click()
    expect(card).to_have_attribute("data-status", "running", timeout=LIVE)
    mark_document(browser_page)
    seen = [counter(browser_page)]
    while len(seen) < 4:
        seen.append(wait_for_counter_above(browser_page, seen[-1]))
    assert_same_document(browser_page)
    assert seen == sorted(set(seen)), seen
    assert seen[-1] < CONVERSATIONS // 2, f"the sync ran too fast to interact with: {seen}"
    expect(card.locator("#sync-status")).to_have_text(
        re.compile(rf"^Processing conversation #\d+ of {CONVERSATIONS}$")
    )
    browser_page.screenshot(path=artifacts("1-running.png"), full_page=True)

    # Cancel: the worker stops after the conversation in flight; Resume shows with the
    # saved position.
    browser_page.get_by_role("button", name="Cancel").click()
    expect(card).to_have_attribute("data-status", "cancelled", timeout=LIVE)
    expect(card.get_by_role("heading")).to_have_text("⚠️ Sync cancelled")
    resume = browser_page.get_by_role("button", name="Resume sync")
    expect(resume).to_be_visible()
    expect(browser_page.get_by_role("button", name="Start over (full re-sync)")).to_be_visible()
    saved_text = card.get_by_text(re.compile(r"Progress is saved: \d+ of \d+ conversations done"))
    expect(saved_text).to_be_visible()
    saved = int(re.search(r"saved: (\d+)", saved_text.inner_text()).group(1))
    expect(card.locator("#sync-status")).to_have_text(
        f"Cancelled at conversation {saved} of {CONVERSATIONS}."
    )
    cancelled = SyncRun.objects.get(page=fb_page)
    fb_page.refresh_from_db()
    assert cancelled.status == SyncRun.Status.CANCELLED
    assert saved >= seen[-1]
    assert saved == cancelled.current == fb_page.sync_checkpoint["current"]
    assert saved == counter(browser_page) == Conversation.objects.filter(page=fb_page).count()
    assert saved < CONVERSATIONS
    browser_page.screenshot(path=artifacts("2-cancelled.png"), full_page=True)

    # Resume (once read: a button ignores clicks in its first second on the screen), then
    # reload in the middle: the fresh page keeps getting live progress.
    browser_page.wait_for_timeout(1100)
    resume.click()
    expect(card).to_have_attribute("data-status", "running", timeout=LIVE)
    wait_for_counter_above(browser_page, saved)
    browser_page.reload()
    expect(card).to_have_attribute("data-status", "running")
    mark_document(browser_page)
    after_reload = counter(browser_page)
    assert saved < after_reload < CONVERSATIONS
    rose = wait_for_counter_above(browser_page, after_reload)
    rose = wait_for_counter_above(browser_page, rose)
    assert_same_document(browser_page)
    expect(card).to_have_attribute("data-status", "running")
    browser_page.screenshot(path=artifacts("3-resumed-after-reload.png"), full_page=True)

    # Complete, still without a reload, with the counters Facebook's truth implies.
    expect(card).to_have_attribute("data-status", "complete", timeout=COMPLETE)
    assert_same_document(browser_page)
    expect(card.get_by_role("heading")).to_have_text("✅ Sync complete")
    expect(card.locator("[data-counter=inserted]")).to_have_text(f"+{CONVERSATIONS}")
    expect(card.locator("[data-counter=updated]")).to_have_text("↻ 0")
    expect(card.locator("[data-counter=events]")).to_have_text(f"📊 {expected['events']}")
    expect(card.locator(".percent")).to_have_text("100%")
    expect(card.locator("[data-counter=skipped]")).to_have_text("= 0")
    expect(browser_page.get_by_role("button", name="Sync from Facebook")).to_be_visible()
    expect(browser_page.get_by_role("button", name="Full re-sync")).to_be_visible()
    browser_page.screenshot(path=artifacts("4-complete.png"), full_page=True)

    # The database holds exactly what Facebook holds, written by a cancelled and a resumed run.
    runs = list(SyncRun.objects.filter(page=fb_page).order_by("created_at", "id"))
    assert [(r.status, r.resumed) for r in runs] == [("cancelled", False), ("complete", True)]
    assert (runs[1].current, runs[1].inserted, runs[1].updated, runs[1].events) == (
        CONVERSATIONS,
        CONVERSATIONS,
        0,
        expected["events"],
    )
    assert_matches_truth(fb_page, truth)
    errors.assert_none()
