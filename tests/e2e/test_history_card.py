"""The Page screen's "Full history" card in a real browser (Chromium), at a laptop's size and
a 390 px phone's, against a real daphne and a real worker fed by the Graph sandbox: a press
of "Fetch full history" queues the backfill, the card counts complete conversations up live
and in place, Stop stops it (and keeps its focus through live updates), fetching again
finishes it, and the card says where each thread's history ended. No console error, no
failed request, nothing scrolls sideways. Screenshots go to test-artifacts/e2e/history-*.png.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from conversations.models import Conversation, Message
from pages.models import SyncRun
from pages.sync import runs
from pages.tasks import queue_sync
from tests.e2e.helpers import CHILD_ENV, VIEWPORTS
from tests.helpers import connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Six long threads (the sync stores the newest 25 messages of each): 25 older messages per
# history call. Graph's latency per call: while the first syncs run, while the backfill is
# watched and stopped (slow, so that it cannot finish before Stop lands), and once fetching
# again (fast, to keep the test short).
SIZES = [180, 160, 140, 120, 100, 80]
THREADS = len(SIZES)
APP_ENV = {
    "HISTORY_PAGE_SIZE": "25",
    "SYNC_PAGE_SIZE": "5",
    "SYNC_REAPER_INTERVAL_SECONDS": "1",
    **CHILD_ENV,
}
LATENCY_MS = {"syncs": 100, "watched": 250, "finishing": 20}
LIVE = 15_000  # ms: a live update arrives well within this (daphne polls every 0.3 s)
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"

# Watches the card from the browser itself: every node the status line was, every state and
# status text it showed, and how many live updates arrived.
WATCH_HISTORY = """() => {
  const live = document.getElementById("live");
  const seen = { statusNodes: 0, states: [], statuses: [], updates: 0 };
  let status = null;
  let version = null;
  const look = () => {
    const now = document.getElementById("history-status");
    if (now && now !== status) { seen.statusNodes += 1; status = now; }
    const card = document.getElementById("history-card");
    const state = card ? card.dataset.state : null;
    if (state !== seen.states[seen.states.length - 1]) seen.states.push(state);
    const text = now ? now.textContent.replace(/\\s+/g, " ").trim() : null;
    if (text !== seen.statuses[seen.statuses.length - 1]) seen.statuses.push(text);
    const shown = live.querySelector("[data-version]").dataset.version;
    if (shown !== version) { seen.updates += 1; version = shown; }
  };
  new MutationObserver(look).observe(live, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
  look();
  window.__history = seen;
}"""

COUNTED = re.compile(r"^History: (\d+) of (\d+) conversations complete · ([\d,]+) messages?$")


def counts(status: str) -> tuple[int, int, int] | None:
    found = COUNTED.match(status or "")
    if not found:
        return None
    complete, total, messages = found.groups()
    return int(complete), int(total), int(messages.replace(",", ""))


def wait_until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def status_of(run: SyncRun) -> str:
    return SyncRun.objects.values_list("status", flat=True).get(pk=run.pk)


def press_once_settled(control) -> None:
    """Click a control that has just appeared, after reading it: a control ignores clicks
    during its first second (static/js/progress.js)."""
    control.wait_for()
    control.page.wait_for_timeout(1100)
    control.click()


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_fetching_full_history_counts_up_live_stops_and_finishes(
    size, make_graph_sandbox, start_daphne, start_worker, open_screen, artifacts
):
    # Two Pages: the shop's six long threads, and a busy Page whose sync holds the worker
    # while the shop's history is asked for (so it waits, queued, for a worker).
    server = make_graph_sandbox(conversations=0, seed=31, pages=2, latency_ms=LATENCY_MS["syncs"])
    shop, busy = connect(server, 0), connect(server, 1)
    server.sandbox.add_threads(shop.facebook_id, SIZES, span_days=60)
    server.sandbox.add_conversations(busy.facebook_id, 600)
    first_sync = queue_sync(shop, trigger=SyncRun.Trigger.WEB)
    busy_sync = queue_sync(busy, trigger=SyncRun.Trigger.WEB)
    start_worker(server, **APP_ENV)
    daphne = start_daphne(server, **APP_ENV)
    wait_until(lambda: status_of(first_sync) == SyncRun.Status.COMPLETE)
    assert Message.objects.filter(page=shop).count() == 25 * THREADS

    screen, errors = open_screen(daphne, size)
    screen.goto(f"{daphne.url}/pages/{shop.pk}/")
    card = screen.locator("#history-card")
    status = screen.locator("#history-status")
    expect(card).to_have_attribute("data-state", "none")
    expect(status).to_contain_text("Fetch the older ones, down to each conversation's first")
    expect(screen.locator("#history-progress")).to_have_count(0)
    screen.evaluate(WATCH_HISTORY)

    # The worker is busy with the other Page: the run waits, queued, and the card says so.
    wait_until(lambda: status_of(busy_sync) == SyncRun.Status.RUNNING)
    screen.get_by_role("button", name="Fetch full history").click()
    expect(card).to_have_attribute("data-state", "queued", timeout=LIVE)
    expect(screen.locator("#history-doing")).to_have_text("Queued: waiting for a worker…")
    expect(screen.locator("#stop-history-button")).to_be_visible()
    screen.wait_for_timeout(500)
    expect(card).to_have_attribute("data-state", "queued")
    server.sandbox.configure(latency_ms=LATENCY_MS["watched"])
    runs.request_cancel(busy)  # the worker is free once the conversation in flight is stored
    expect(card).to_have_attribute("data-state", "running", timeout=LIVE)
    expect(screen.locator("#history-doing")).to_contain_text("Fetching older messages: now")
    expect(screen.locator("#history-progress")).to_have_attribute("max", str(THREADS))
    stop = screen.locator("#stop-history-button")
    expect(stop).to_be_visible()
    expect(screen.locator("#fetch-history-button")).to_have_count(0)
    assert screen.evaluate(SIDEWAYS) <= 0
    screen.screenshot(path=artifacts(f"history-running-{size}.png"), full_page=True)

    # Focus on Stop survives live updates: the button keeps its node.
    stop.focus()
    updates = screen.evaluate("window.__history.updates")
    screen.wait_for_timeout(2500)
    assert screen.evaluate("document.activeElement.id") == "stop-history-button"
    assert screen.evaluate("window.__history.updates") - updates >= 3
    expect(card).to_have_attribute("data-state", "running")

    # Stop once a conversation is complete (and before all are).
    expect(status).to_have_text(
        re.compile(rf"^History: [1-{THREADS - 1}] of {THREADS} "), timeout=LIVE
    )
    stop.click()
    expect(card).to_have_attribute("data-state", "cancelled", timeout=LIVE)
    expect(screen.locator("#history-doing")).to_have_text(
        "Stopped (cancelled). Fetching again goes on where each conversation stopped."
    )
    stopped = counts(status.inner_text())
    assert stopped is not None
    assert 0 < stopped[0] < THREADS, stopped
    assert stopped[2] == Message.objects.filter(page=shop).count() - 25 * THREADS
    expect(screen.locator("#stop-history-button")).to_have_count(0)
    assert screen.evaluate(SIDEWAYS) <= 0
    screen.screenshot(path=artifacts(f"history-stopped-{size}.png"), full_page=True)

    # Fetching again goes on from there and finishes every thread.
    server.sandbox.configure(latency_ms=LATENCY_MS["finishing"])
    press_once_settled(screen.get_by_role("button", name="Fetch full history"))
    expect(card).to_have_attribute("data-state", "complete", timeout=30_000)
    total_older = sum(SIZES) - 25 * THREADS
    expect(status).to_have_text(
        f"History: {THREADS} of {THREADS} conversations complete · {total_older:,} messages"
    )
    expect(screen.locator("#history-ends")).to_have_text(f"{THREADS} reached their first message")
    expect(screen.locator("#history-actions")).to_have_count(0)
    expect(screen.locator("#history-progress")).to_have_count(0)
    assert Message.objects.filter(page=shop).count() == sum(SIZES)
    assert Conversation.objects.filter(page=shop, history_complete=True).count() == THREADS
    history_runs = shop.sync_runs.filter(mode="history").order_by("id").values_list("status")
    assert list(history_runs) == [(SyncRun.Status.CANCELLED,), (SyncRun.Status.COMPLETE,)]

    seen = screen.evaluate("window.__history")
    # One status line from the first update to the last, its count never going back.
    assert seen["statusNodes"] == 1
    numbers = [c for c in map(counts, seen["statuses"]) if c is not None]
    completes = [c[0] for c in numbers]
    assert completes == sorted(completes), seen["statuses"]
    assert len(set(completes)) >= 3, seen["statuses"]  # counted up live, not only at the end
    assert [m for _, _, m in numbers] == sorted(m for _, _, m in numbers)
    # none → queued → running → … → cancelled → (queued, briefly) → running → complete.
    states = seen["states"]
    assert states[:3] == ["none", "queued", "running"], states
    assert "cancelled" in states, states
    assert states[-2:] == ["running", "complete"], states
    assert screen.evaluate(SIDEWAYS) <= 0
    screen.screenshot(path=artifacts(f"history-complete-{size}.png"), full_page=True)
    errors.assert_none()
