"""Every screen in a real browser, at a desktop size (1280×800) and a phone's (390×844):
Chromium against a real daphne on the test database, filled through the ORM.

What holds on every screen: nothing scrolls sideways (`scrollWidth <= clientWidth`), every
action (link, button, field) lies within the screen and outside any sideways scroller, the
header takes at most two lines, no console error and no failed request to our own server.
Right-to-left names keep the time and the separator where a Latin name has them (checked by
the boxes' geometry, not by text); times and the heat map are in the browser's timezone; a
logged-in account without inbox access gets an explanation and a Log out button. A screenshot
of each screen at each size goes to test-artifacts/e2e/screens-<size>-<screen>.png.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import ConsoleMessage, Page, Request, Response, expect

from conversations.models import Contact, Conversation, InteractionEvent, Message
from pages.models import FacebookPage, SyncRun
from tests.e2e.helpers import CHILD_ENV
from tests.helpers import create_inbox_staff

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PASSWORD = "e2e-Screens-password-5"
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
# The browser's timezone: not the server's (UTC), so a time shown in it proves the cookie works.
BROWSER_TIMEZONE = "Asia/Jerusalem"
HEBREW_NAME = "דוד כהן"
ARABIC_NAME = "مريم"
LATIN_NAME = "Ana Ferreira"
HEBREW_PAGE = "חנות האופניים"
# 2026-08-03 is a Monday; Jerusalem is UTC+3 in August.
MONDAY = datetime(2026, 8, 3, tzinfo=UTC)


# ---- Data, through the ORM ----


def contact_thread(page, number: int, name: str, messages: list[dict]) -> Conversation:
    """A conversation with `name`; messages oldest first, two hours apart from Monday 09:00."""
    contact = Contact.objects.create(page=page, psid=f"9{number:05d}", name=name)
    start = MONDAY + timedelta(hours=9)
    conversation = Conversation.objects.create(
        page=page,
        facebook_id=f"t_{number}",
        contact=contact,
        updated_time=start + timedelta(hours=2 * len(messages)),
        message_count=len(messages),
        unread_count=number,
        # Graph's snippet is the last message's text: empty for an attachment-only message.
        snippet=messages[-1].get("text", ""),
    )
    for index, spec in enumerate(messages):
        outbound = spec.get("out", False)
        Message.objects.create(
            page=page,
            conversation=conversation,
            facebook_id=f"m_{number}_{index}",
            sender_id=page.facebook_id if outbound else contact.psid,
            sender_name=page.name if outbound else name,
            direction="out" if outbound else "in",
            text=spec.get("text", ""),
            attachments=spec.get("attachments", []),
            created_time=start + timedelta(hours=2 * index),
        )
    return conversation


def seed() -> dict:
    shop = FacebookPage.objects.create(facebook_id="100000000000001", name="Lisbon Bike Shop")
    shop.access_token = "EAAB-e2e-screens-token"  # connected: its screen offers to sync
    shop.last_synced_at = timezone.now() - timedelta(seconds=20)
    shop.save()
    FacebookPage.objects.create(facebook_id="100000000000002", name=HEBREW_PAGE)
    now = timezone.now()
    SyncRun.objects.create(
        page=shop,
        status="complete",
        mode="full",
        current=3,
        total=3,
        inserted=3,
        events=6,
        started_at=now - timedelta(minutes=1),
        finished_at=now - timedelta(seconds=20),
    )
    # No address: the test browser has no Internet, and a picture from Facebook's CDN would fail.
    photo = {"type": "image", "name": "photo.jpg"}
    latin = contact_thread(
        shop,
        1,
        LATIN_NAME,
        [{"text": "Is the blue bike available in size M?"}, {"text": "Yes!", "out": True}],
    )
    hebrew = contact_thread(
        shop,
        2,
        HEBREW_NAME,
        [{"text": "שלום, האם האופניים הכחולים זמינים?"}, {"text": "Yes, 2 left.", "out": True}],
    )
    arabic = contact_thread(
        shop,
        3,
        ARABIC_NAME,
        [{"text": "مرحبا، هل الدراجة متوفرة؟"}, {"attachments": [photo]}],
    )
    sticker = contact_thread(
        shop, 4, "Bruno Costa", [{"attachments": [{"type": "sticker", "url": ""}]}]
    )
    # One event at Monday 22:30 UTC: Tuesday 01:30 in Jerusalem.
    InteractionEvent.objects.create(
        page=shop,
        conversation=latin,
        contact=latin.contact,
        kind="message_received",
        source_id="m_1_0",
        occurred_at=MONDAY + timedelta(hours=22, minutes=30),
    )
    return {"shop": shop, "latin": latin, "hebrew": hebrew, "arabic": arabic, "sticker": sticker}


# ---- The browser ----


class Watch:
    """Console errors, uncaught exceptions and failed requests to our server, for one tab.
    `expect_error_document` names a document that answers 4xx on purpose (the 403 and 404
    screens); nothing else may fail."""

    def __init__(self, tab: Page, server_url: str) -> None:
        self.server_url = server_url
        self.expected: set[str] = set()
        self.problems: list[str] = []
        tab.on("console", self._console)
        tab.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        tab.on("requestfailed", self._failed)
        tab.on("response", self._response)

    def expect_error_document(self, url: str) -> None:
        self.expected.add(url)

    def _ours(self, url: str) -> bool:
        return url.startswith(self.server_url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chrome reports a 4xx document as "Failed to load resource" too.
        if message.location.get("url") in self.expected and "status of 40" in message.text:
            return
        self.problems.append(f"console error: {message.text} ({message.location})")

    def _failed(self, request: Request) -> None:
        # A navigation aborts what the page left in flight (its live stream, a favicon still
        # loading): the browser's doing, not a failure of the server (as tests/e2e/helpers.py).
        aborted = request.failure == "net::ERR_ABORTED"
        if self._ours(request.url) and not aborted:
            self.problems.append(f"request failed: {request.url} {request.failure}")

    def _response(self, response: Response) -> None:
        failed = self._ours(response.url) and response.status >= 400
        if failed and response.url not in self.expected:
            self.problems.append(f"{response.status}: {response.url}")

    def assert_clean(self) -> None:
        assert self.problems == []


NO_SIDEWAYS_SCROLL = """() => {
    const root = document.documentElement;
    return [root.scrollWidth, root.clientWidth];
}"""

# Every visible action (link, button, field) must lie within the screen and within every
# ancestor that clips or scrolls sideways: none is reachable only by scrolling sideways.
ACTIONS_OUT_OF_VIEW = """() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    for (const el of document.querySelectorAll('a[href], button, input, select, textarea')) {
        if (el.closest('.skip-link, .visually-hidden') || el.type === 'hidden') continue;
        const box = el.getBoundingClientRect();
        if (box.width <= 1 || box.height <= 1) continue;
        let bad = box.left < -0.5 || box.right > width + 0.5;
        for (let up = el.parentElement; up && !bad; up = up.parentElement) {
            const overflow = getComputedStyle(up).overflowX;
            if (overflow === 'visible') continue;
            const frame = up.getBoundingClientRect();
            bad = box.left < frame.left - 0.5 || box.right > frame.right + 0.5;
        }
        if (bad) out.push(`${el.tagName} "${el.textContent.trim().slice(0, 40)}"`);
    }
    return out;
}"""

HEADER_ROWS = """() => {
    const items = [...document.querySelectorAll(
        '.site-header .brand, .site-header nav a, .site-header .logout button')];
    const tops = [];
    for (const item of items) {
        const top = item.getBoundingClientRect().top;
        if (!tops.some(t => Math.abs(t - top) < 12)) tops.push(top);
    }
    return tops.length;
}"""


def check_screen(tab: Page, size: str, name: str, artifacts) -> None:
    """What every screen must satisfy, then its screenshot."""
    tab.wait_for_load_state("load")
    scroll_width, client_width = tab.evaluate(NO_SIDEWAYS_SCROLL)
    assert scroll_width <= client_width, f"{name} scrolls sideways at {size}"
    assert tab.evaluate(ACTIONS_OUT_OF_VIEW) == [], f"{name} at {size}"
    assert tab.evaluate(HEADER_ROWS) <= 2, f"the header of {name} wraps at {size}"
    tab.screenshot(path=artifacts(f"screens-{size}-{name}.png"), full_page=True)


def log_in(tab: Page, server_url: str, username: str) -> None:
    tab.goto(f"{server_url}/login/")
    tab.get_by_label("Username").fill(username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    # Where a login lands (LOGIN_REDIRECT_URL): wait for it, so the next navigation does not
    # cut this one short.
    tab.wait_for_url(f"{server_url}/pages/", wait_until="load")


@pytest.fixture
def app(make_graph_sandbox, start_daphne):
    """daphne on the test database. No Graph call is made: the sandbox only gives daphne a
    Graph address."""
    return start_daphne(make_graph_sandbox(conversations=1, seed=5), **CHILD_ENV)


def open_tab(new_context, size: str, timezone_id: str = BROWSER_TIMEZONE) -> Page:
    return new_context(**SIZES[size], timezone_id=timezone_id).new_page()


# ---- Tests ----


@pytest.mark.parametrize("size", SIZES)
def test_every_screen_fits_and_loads_without_errors(app, new_context, artifacts, size):
    data = seed()
    # A superuser: the widest header (an Admin link too), with a long name to cut short.
    User.objects.create_superuser("administrator.of.the.bike-shop", password=PASSWORD)
    tab = open_tab(new_context, size)
    watch = Watch(tab, app.url)

    # Logged out: an unknown address, then the login page (which sets the timezone cookie).
    watch.expect_error_document(f"{app.url}/no-such-page/")
    assert tab.goto(f"{app.url}/no-such-page/").status == 404
    expect(tab.get_by_role("heading", level=1)).to_have_text("Not found")
    check_screen(tab, size, "404-logged-out", artifacts)
    tab.goto(app.url)
    expect(tab).to_have_url(re.compile(r"/login/"))
    check_screen(tab, size, "login", artifacts)

    log_in(tab, app.url, "administrator.of.the.bike-shop")
    expect(tab.get_by_role("heading", name="Facebook Pages")).to_be_visible()
    expect(tab.get_by_role("navigation", name="Main").get_by_role("link")).to_have_count(3)
    for button in tab.get_by_role("button", name="Sync from Facebook").all():
        expect(button).to_be_in_viewport()
    expect(tab.get_by_text("just now")).to_be_visible()
    check_screen(tab, size, "pages", artifacts)

    tab.get_by_role("link", name="Lisbon Bike Shop", exact=True).click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Lisbon Bike Shop")
    check_screen(tab, size, "page", artifacts)

    # After a verify that found missing data, with the history backfill half done.
    shop = data["shop"]
    long_id = "0123456789" * 12  # a long id must wrap, not push the card sideways
    SyncRun.objects.create(
        page=shop,
        mode=SyncRun.Mode.VERIFY,
        status=SyncRun.Status.COMPLETE,
        current=4,
        total=4,
        started_at=timezone.now() - timedelta(minutes=1),
        finished_at=timezone.now(),
        report={
            "phase": "checking",
            "listed": 5,
            "checked": 4,
            "missingConversations": 1,
            "missingMessages": 3,
            "conversationsMissingMessages": 1,
            "examples": [
                {"id": f"t_{long_id}", "missing": "conversation"},
                {"id": "t_2", "missing": "messages", "messages": 3},
            ],
        },
    )
    SyncRun.objects.create(
        page=shop,
        mode=SyncRun.Mode.HISTORY,
        status=SyncRun.Status.INTERRUPTED,
        current=1,
        total=4,
        inserted=1204,
        started_at=timezone.now() - timedelta(minutes=3),
        finished_at=timezone.now() - timedelta(minutes=2),
        error="Interrupted. Progress saved at conversation #1.",
    )
    Conversation.objects.filter(page=shop, facebook_id="t_1").update(
        history_complete=True, history_end=Conversation.HistoryEnd.GRAPH_STOPPED
    )
    FacebookPage.objects.filter(pk=shop.pk).update(history_checkpoint={"messages": 1204})
    tab.reload()
    expect(tab.locator("#sync-title")).to_contain_text("Verify found missing data")
    expect(tab.locator("#history-status")).to_have_text(
        "History: 1 of 4 conversations complete · 1,204 messages"
    )
    expect(tab.get_by_role("button", name="Fetch full history")).to_be_visible()
    check_screen(tab, size, "page-verified", artifacts)

    tab.goto(f"{app.url}/pages/connect/")
    expect(tab.get_by_role("heading", name="Connect a page")).to_be_visible()
    check_screen(tab, size, "connect", artifacts)

    tab.goto(f"{app.url}/conversations/")
    rows = tab.locator("table.conversations-table tbody tr")
    expect(rows).to_have_count(4)
    # No "Last message" is empty; attachment-only ones say what they hold.
    for snippet in tab.locator("td.snippet").all():
        assert snippet.inner_text().strip()
    arabic_row = rows.filter(has_text=ARABIC_NAME)
    expect(arabic_row.locator("td.snippet")).to_have_text("📷 Photo")
    expect(arabic_row.locator("td.snippet [aria-hidden=true]")).to_have_text("📷")
    expect(rows.filter(has_text="Bruno Costa").locator("td.snippet")).to_have_text("Sticker")
    check_screen(tab, size, "conversations", artifacts)

    rows.filter(has_text=HEBREW_NAME).get_by_role("link").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text(HEBREW_NAME)
    check_screen(tab, size, "conversation", artifacts)

    tab.goto(f"{app.url}/conversations/activity/{data['shop'].pk}/")
    expect(tab.get_by_role("heading", name="By weekday and hour")).to_be_visible()
    check_screen(tab, size, "activity", artifacts)

    missing = f"{app.url}/conversations/999999/"
    watch.expect_error_document(missing)
    assert tab.goto(missing).status == 404
    expect(tab.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(tab.get_by_role("navigation", name="Main")).to_be_visible()
    check_screen(tab, size, "404", artifacts)

    tab.goto(f"{app.url}/favicon.ico")  # answered, not a 404 (redirected to the icon)
    watch.assert_clean()


@pytest.mark.parametrize("size", SIZES)
def test_an_account_without_inbox_access_is_told_why_and_can_log_out(
    app, new_context, artifacts, size
):
    User.objects.create_user("visitor", password=PASSWORD)  # not staff, no permission
    tab = open_tab(new_context, size)
    watch = Watch(tab, app.url)
    watch.expect_error_document(f"{app.url}/pages/")

    log_in(tab, app.url, "visitor")

    expect(tab).to_have_url(f"{app.url}/pages/")
    expect(tab.get_by_role("heading", level=1)).to_have_text("No access to the inbox")
    main = tab.get_by_role("main")
    expect(main).to_contain_text("your account does not have access to the inbox")
    expect(main).to_contain_text("Ask an administrator")
    # No navigation to screens that would refuse them too.
    expect(tab.get_by_role("navigation", name="Main")).to_have_count(0)
    check_screen(tab, size, "403", artifacts)

    main.get_by_role("button", name="Log out").click()
    expect(tab).to_have_url(re.compile(r"/login/$"))
    expect(tab.get_by_role("button", name="Log in")).to_be_visible()
    watch.assert_clean()


def boxes(tab: Page, meta) -> dict[str, dict]:
    return {
        part: meta.locator(selector).bounding_box()
        for part, selector in (("name", "bdi.sender"), ("sep", ".sep"), ("time", "time"))
    }


def assert_in_reading_order(parts: dict[str, dict], what: str, *, one_line: bool) -> None:
    """Name, then the separator, then the time, left to right as on an LTR page. A line too
    long for a phone may put the time on the next line, after the name, but never before it."""
    name, sep, time = parts["name"], parts["sep"], parts["time"]
    what = f"{what}: {parts}"
    assert name["x"] + name["width"] <= sep["x"] + 0.5, what
    if one_line or abs(time["y"] - name["y"]) < 1:
        assert abs(time["y"] - name["y"]) < 1, what
        assert sep["x"] + sep["width"] <= time["x"] + 0.5, what
    else:
        assert time["y"] >= name["y"] + name["height"] - 1, what


@pytest.mark.parametrize("size", SIZES)
def test_right_to_left_names_keep_the_time_and_separator_in_their_place(app, new_context, size):
    data = seed()
    create_inbox_staff("staff", password=PASSWORD)
    tab = open_tab(new_context, size)
    watch = Watch(tab, app.url)
    log_in(tab, app.url, "staff")

    for key, name in (("latin", LATIN_NAME), ("hebrew", HEBREW_NAME), ("arabic", ARABIC_NAME)):
        tab.goto(f"{app.url}/conversations/{data[key].pk}/")
        received = tab.locator(".msg.received .meta").first
        expect(received.locator("bdi.sender")).to_have_text(name)
        # A short name and the time fit on one line, even on a phone.
        assert_in_reading_order(boxes(tab, received), f"{name}'s message", one_line=True)
        # The page's reply, under its Latin name ("Lisbon Bike Shop": two lines on a phone).
        sent = tab.locator(".msg.sent .meta").first
        if sent.count():
            assert_in_reading_order(boxes(tab, sent), f"the reply to {name}", one_line=False)

    # The list: the name comes first, its unread count right after it, the time after both.
    tab.goto(f"{app.url}/conversations/")
    for name in (LATIN_NAME, HEBREW_NAME, ARABIC_NAME):
        row = tab.locator("table.conversations-table tbody tr").filter(has_text=name)
        name_box = row.locator("th bdi").bounding_box()
        badge = row.locator(".badge.unread").bounding_box()
        time_box = row.locator("td.updated time").bounding_box()
        assert name_box["x"] + name_box["width"] <= badge["x"] + 0.5, name
        assert name_box["x"] < time_box["x"], name
        expect(row.locator(".badge.unread")).to_contain_text(re.compile(r"^\d+"))
    watch.assert_clean()


def test_times_and_the_heat_map_are_in_the_browsers_timezone(app, new_context):
    data = seed()
    create_inbox_staff("staff", password=PASSWORD)
    tab = open_tab(new_context, "desktop", timezone_id=BROWSER_TIMEZONE)
    watch = Watch(tab, app.url)
    log_in(tab, app.url, "staff")

    tab.goto(f"{app.url}/conversations/activity/{data['shop'].pk}/")
    expect(tab.locator("[data-timezone]")).to_have_text(BROWSER_TIMEZONE)
    expect(tab.locator(".timezone-note")).to_contain_text("your browser's timezone")
    # Monday 22:30 UTC is Tuesday 01:30 in Jerusalem.
    tuesday = tab.locator(".heatmap tbody tr").filter(has_text="Tuesday")
    expect(tuesday.locator("td[data-count]").nth(1)).to_have_attribute("data-count", "1")
    monday = tab.locator(".heatmap tbody tr").filter(has_text="Monday")
    expect(monday.locator("td[data-count]").nth(22)).to_have_attribute("data-count", "0")

    tab.goto(f"{app.url}/conversations/{data['latin'].pk}/")
    first = data["latin"].messages.order_by("created_time").first().created_time
    local = first.astimezone(ZoneInfo(BROWSER_TIMEZONE))
    expect(tab.locator(".msg time").first).to_have_text(f"{local:%Y-%m-%d %H:%M} IDT")
    watch.assert_clean()
