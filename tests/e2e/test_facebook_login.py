"""Connect with Facebook in a real browser (Chromium), at a laptop's size and a phone's: from
the Pages screen to the sandbox's Login dialog and back to the picker (names, pictures, what
fbsync can do with each Page; one lacks the Messaging task and cannot be picked), then the
chosen Page is connected and its first sync runs on a real worker. No console error, no failed
request, no sideways scrolling; screenshots of the picker and of the Pages screen go to
test-artifacts/e2e/ (`login-*-<size>.png`)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from pages.models import FacebookPage, SyncRun
from tests.e2e.helpers import CHILD_ENV, VIEWPORTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

COMPLETE = 60_000  # ms

FITS_THE_WIDTH = """() => {
  const root = document.documentElement;
  return root.scrollWidth <= root.clientWidth;
}"""
PICTURES_LOADED = """() => [...document.querySelectorAll('.page-choices img')]
  .map((img) => img.complete && img.naturalWidth > 0)"""


def fits_the_width(screen: Page) -> bool:
    """Nothing scrolls sideways, once the stylesheet is applied."""
    screen.wait_for_load_state("load")
    return screen.evaluate(FITS_THE_WIDTH)


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_connect_with_facebook_picks_a_page_and_syncs_it(
    size, make_graph_sandbox, start_daphne, start_worker, open_screen, artifacts
):
    server = make_graph_sandbox(conversations=6, seed=13, pages=2)
    (first_id, first_name, first_token), (second_id, second_name, _) = server.pages
    # The person may read the first Page's messages, not the second's.
    server.sandbox.oauth_user(tasks={second_id: ["ANALYZE", "ADVERTISE"]})
    app = server.sandbox.app_credentials()
    env = {
        "FACEBOOK_APP_ID": app["app_id"],
        "FACEBOOK_APP_SECRET": app["app_secret"],
        "FACEBOOK_DIALOG_URL": server.url,
        **CHILD_ENV,
    }
    daphne = start_daphne(server, **env)
    start_worker(server, **env)
    screen, errors = open_screen(daphne, size)

    screen.goto(f"{daphne.url}/pages/")
    screen.get_by_role("link", name="Connect with Facebook").first.click()
    # Facebook's dialog (the sandbox's): grant everything asked, for both Pages.
    expect(screen.get_by_role("heading", name="is requesting access")).to_be_visible()
    assert screen.url.startswith(f"{server.url}/v26.0/dialog/oauth?")
    screen.locator("#continue").click()

    expect(screen.get_by_role("heading", name="Choose the Pages to connect")).to_be_visible()
    # Facebook appends "#_=_" to its redirect; the browser keeps it through ours.
    assert screen.url.split("#")[0] == f"{daphne.url}/pages/facebook/pages/"
    first = screen.get_by_role("checkbox", name=first_name)
    second = screen.get_by_role("checkbox", name=second_name)
    expect(first).to_be_checked()
    expect(second).to_be_disabled()
    expect(second).not_to_be_checked()
    expect(screen.get_by_text("Can read messages")).to_have_count(1)
    expect(
        screen.get_by_text("Cannot read messages (you lack the Messaging task on this Page)")
    ).to_be_visible()
    screen.wait_for_function(f"() => ({PICTURES_LOADED})().every(Boolean)")
    assert screen.evaluate(PICTURES_LOADED) == [True, True]
    expect(screen.get_by_role("checkbox", name="Start the first sync now")).to_be_checked()
    assert fits_the_width(screen)
    screen.screenshot(path=artifacts(f"login-picker-{size}.png"), full_page=True)

    screen.get_by_role("button", name="Connect the chosen Pages").click()

    expect(screen.get_by_role("heading", name="Facebook Pages")).to_be_visible()
    expect(screen.get_by_text(f"Connected {first_name}.")).to_be_visible()
    expect(screen.get_by_text(f"The first sync of {first_name} is queued.")).to_be_visible()
    assert fits_the_width(screen)
    screen.screenshot(path=artifacts(f"login-connected-{size}.png"), full_page=True)
    page = FacebookPage.objects.get()
    assert (page.facebook_id, page.access_token) == (first_id, first_token)
    assert page.webhook_fields
    assert not FacebookPage.objects.filter(facebook_id=second_id).exists()
    run = SyncRun.objects.get(page=page)
    assert run.trigger == SyncRun.Trigger.LOGIN

    # The worker runs the first sync; the Pages screen then shows it complete.
    row = screen.get_by_role("row").filter(has_text=first_name)
    for _ in range(COMPLETE // 250):
        run.refresh_from_db()
        if run.status == SyncRun.Status.COMPLETE:
            break
        screen.wait_for_timeout(250)
    assert run.status == SyncRun.Status.COMPLETE
    screen.reload()
    expect(row.get_by_text("Complete")).to_be_visible()
    errors.assert_none()
