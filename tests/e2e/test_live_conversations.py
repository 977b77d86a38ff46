"""The conversation screens, live, in a real browser (Chromium) at a laptop's size and a
phone's: a message stored as a webhook stores it (the models, then
`publish_conversation_changed`, in this process) appears within a second on an open
conversation and on the conversations list, and the Page screen's "Last webhook received"
follows; keyboard focus, the reader's half-typed search and scroll position survive; only the
short status line is announced; no console error or failed request. The delays are printed.

daphne runs in its own process on the test database (no Redis: it finds the change by polling
the event counter, the slower of its two ways). Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from conversations.live import publish_conversation_changed
from conversations.models import Contact, Conversation, Message
from pages.models import FacebookPage
from tests.e2e.helpers import CHILD_ENV, VIEWPORTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SIZES = list(VIEWPORTS)
# Seconds from the change to the screen. The target is 1 s at p95, measured over many samples
# by benchmarks/webhook_benchmark.py; one sample on a loaded CI machine gets some slack here,
# still far below what a missed live update would take (the next reload).
WITHIN = 2.0
OTHERS = 24  # conversations besides Ana's: a list taller than a phone's screen

# Records, in the browser, when `text` first shows in the element `selector`.
WATCH_FOR_TEXT = """([selector, text]) => {
  window.__seenAt = null;
  const look = () => {
    const element = document.querySelector(selector);
    if (window.__seenAt === null && element && element.textContent.includes(text)) {
      window.__seenAt = Date.now();
    }
  };
  new MutationObserver(look).observe(document.body, {
    subtree: true, childList: true, characterData: true,
  });
  look();
}"""


def seed() -> dict:
    now = timezone.now()
    page = FacebookPage.objects.create(facebook_id="10000000000000001", name="Lisbon Bike Shop")
    ana = new_conversation(page, "Ana Sousa", updated=now - timedelta(hours=30))
    Message.objects.create(
        page=page,
        conversation=ana,
        facebook_id="m_ana_1",
        sender_id="p_ana_sousa",
        sender_name="Ana Sousa",
        direction="in",
        text="Do you ship to Porto?",
        created_time=now - timedelta(hours=30),
    )
    others = [
        new_conversation(page, f"Person {n:02}", updated=now - timedelta(hours=n))
        for n in range(1, OTHERS + 1)
    ]
    return {"page": page, "ana": ana, "others": others}


def new_conversation(page: FacebookPage, name: str, *, updated) -> Conversation:
    psid = "p_" + name.lower().replace(" ", "_")
    contact = Contact.objects.create(page=page, psid=psid, name=name)
    return Conversation.objects.create(
        page=page,
        facebook_id=f"t_{psid}",
        contact=contact,
        updated_time=updated,
        message_count=1,
        snippet="Hello",
    )


def deliver(conversation: Conversation, text: str) -> float:
    """What a webhook's processing does: store the message, move the conversation forward,
    then publish. Returns when it published (wall clock, as the browser's Date.now())."""
    now = timezone.now()
    Message.objects.create(
        page=conversation.page,
        conversation=conversation,
        facebook_id=f"m_{time.monotonic_ns()}",
        sender_id=conversation.contact.psid,
        sender_name=conversation.contact.name,
        direction="in",
        text=text,
        created_time=now,
    )
    conversation.updated_time, conversation.snippet = now, text
    conversation.message_count += 1
    conversation.save()
    FacebookPage.objects.filter(pk=conversation.page_id).update(last_webhook_at=now)
    published_at = time.time()
    publish_conversation_changed(conversation.page_id, conversation.pk)
    return published_at


def open_live(open_screen, daphne, size: str, path: str) -> tuple[Page, object]:
    screen, errors = open_screen(daphne, size)
    screen.goto(f"{daphne.url}{path}")
    expect(screen.locator("[data-live-state=open]")).to_have_count(1, timeout=10_000)
    return screen, errors


def mark_focused(screen: Page, selector: str) -> None:
    """Focus an element and mark the node itself: a focus on a new node would not count."""
    screen.locator(selector).focus()
    screen.evaluate("() => { document.activeElement.__kept = true; }")


def focus_kept(screen: Page) -> bool:
    return screen.evaluate("() => document.activeElement.__kept === true")


def delay_of(screen: Page, published_at: float) -> float:
    screen.wait_for_function("() => window.__seenAt !== null", timeout=5_000)
    return screen.evaluate("() => window.__seenAt") / 1000 - published_at


@pytest.mark.parametrize("size", SIZES)
def test_a_delivered_message_shows_within_a_second_on_every_open_screen(
    size, make_graph_sandbox, start_daphne, open_screen, artifacts
):
    data = seed()
    fb_page, ana = data["page"], data["ana"]
    daphne = start_daphne(make_graph_sandbox(conversations=1, seed=5), **CHILD_ENV)

    thread, thread_errors = open_live(open_screen, daphne, size, f"/conversations/{ana.pk}/")
    listing, list_errors = open_live(
        open_screen, daphne, size, f"/conversations/?page={fb_page.pk}"
    )
    card, card_errors = open_screen(daphne, size)
    card.goto(f"{daphne.url}/pages/{fb_page.pk}/")
    expect(card.locator("#fact-last-webhook")).to_have_text("Never")

    ana_row = f"#conversation-{ana.pk}"
    expect(listing.locator("tbody tr").first).not_to_have_id(f"conversation-{ana.pk}")
    mark_focused(thread, "#conversation-live .facts a[href^='/pages/']")
    # A search typed but not submitted is the reader's: a live update leaves it alone.
    listing.locator("#filter-q").fill("Porto")
    mark_focused(listing, f"{ana_row} th a")
    thread.evaluate(WATCH_FOR_TEXT, ["ol.thread", "See you on Saturday"])
    listing.evaluate(WATCH_FOR_TEXT, [f"{ana_row} td.snippet", "See you on Saturday"])
    card.evaluate(WATCH_FOR_TEXT, ["#fact-last-webhook", "just now"])

    published_at = deliver(ana, "See you on Saturday")

    delays = {
        "conversation": delay_of(thread, published_at),
        "list": delay_of(listing, published_at),
        "page screen": delay_of(card, published_at),
    }
    print(f"\n{size}: " + ", ".join(f"{name} {ms * 1000:.0f} ms" for name, ms in delays.items()))
    assert all(delay < WITHIN for delay in delays.values()), delays

    # The thread: the message at its end, the focused link still the focused node, one line
    # announced.
    expect(thread.locator("ol.thread li.msg").last).to_contain_text("See you on Saturday")
    expect(thread.locator("#conversation-live .facts")).to_contain_text("2 stored")
    expect(thread.locator("#live-status")).to_have_text("1 new message")
    assert focus_kept(thread)
    # The list: Ana's row moved to the top, the same node, still focused; the search stays.
    expect(listing.locator("tbody tr").first).to_have_id(f"conversation-{ana.pk}")
    expect(listing.locator(f"{ana_row} td.num")).to_have_text("2")
    expect(listing.locator("tbody tr")).to_have_count(OTHERS + 1)
    expect(listing.locator("#live-status")).to_have_text("1 conversation updated")
    assert focus_kept(listing)
    expect(listing.locator("#filter-q")).to_have_value("Porto")
    thread.screenshot(path=artifacts(f"live-conversation-{size}.png"), full_page=True)
    listing.screenshot(path=artifacts(f"live-list-{size}.png"), full_page=True)

    # Scrolled down the list, the reader keeps what they read when a row below moves up:
    # with Chromium's scroll anchoring, then without it, as in Safari (the script's own).
    for anchoring, moved in (("auto", data["others"][-1]), ("none", data["others"][-2])):
        listing.evaluate(
            f"() => {{ document.documentElement.style.overflowAnchor = '{anchoring}'; }}"
        )
        watched = listing.locator(f"#conversation-{data['others'][1].pk}")
        watched.evaluate("row => row.scrollIntoView({block: 'start'})")
        listing.evaluate("() => window.scrollBy(0, -20)")
        listing.wait_for_timeout(100)
        assert listing.evaluate("() => window.scrollY") > 0
        before = watched.bounding_box()["y"]
        deliver(moved, f"Is the shop open on Sunday? ({anchoring})")
        first_row = listing.locator("tbody tr").first
        expect(first_row).to_have_id(f"conversation-{moved.pk}", timeout=2_000)
        assert abs(watched.bounding_box()["y"] - before) < 2, anchoring
        assert focus_kept(listing)
    # Announced at most every 5 s: what came since is added up, then said once.
    assert listing.locator("#live-status").text_content() == "1 conversation updated"
    expect(listing.locator("#live-status")).to_have_text("2 conversations updated", timeout=6_000)

    for errors in (thread_errors, list_errors, card_errors):
        errors.assert_none()


def test_a_change_on_another_conversation_leaves_an_open_one_alone(
    make_graph_sandbox, start_daphne, open_screen
):
    data = seed()
    ana, other = data["ana"], data["others"][0]
    daphne = start_daphne(make_graph_sandbox(conversations=1, seed=5), **CHILD_ENV)
    thread, errors = open_live(open_screen, daphne, "desktop", f"/conversations/{ana.pk}/")
    listing, list_errors = open_live(open_screen, daphne, "desktop", "/conversations/")
    fetched = []
    thread.on("request", lambda request: fetched.append(request.url))

    deliver(other, "Only for Person 01")
    expect(listing.locator("tbody tr").first).to_contain_text("Only for Person 01")
    thread.wait_for_timeout(500)  # time enough for a refresh it should not make
    assert [url for url in fetched if "/conversations/" in url] == []
    expect(thread.locator("#live-status")).to_have_text("")
    errors.assert_none()
    list_errors.assert_none()
