"""The Page screen's live part (pages/panel.py, templates/pages/page_detail.html): every state
tells the truth and offers only the controls that help; a live event renders what a page load
renders."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from conversations.models import Conversation
from pages.connect import connect_page
from pages.models import FacebookPage, SyncRun, WorkerHeartbeat
from pages.panel import WAIT_WARNING_AFTER, panel_context, render_event
from pages.sync import findings
from pages.sync.checkpoint import Checkpoint
from pages.tasks import PageNotConnected, queue_sync
from tests.helpers import sync

pytestmark = pytest.mark.django_db


def screen(client, page) -> str:
    return client.get(reverse("pages:detail", args=[page.pk])).content.decode()


def card(html: str) -> str:
    """The sync card's text as a screen reader reads it: tags and decorative icons dropped,
    spaces collapsed."""
    section = re.search(r'<section id="sync-card".*?</section>', html, re.S).group(0)
    section = re.sub(r'<span aria-hidden="true">.*?</span>', "", section)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section)).strip()
    return re.sub(r" ([.,:;])", r"\1", text)


def buttons(html: str) -> list[str]:
    section = re.search(r'<section id="sync-card".*?</section>', html, re.S).group(0)
    return re.findall(r'<(?:button|a) id="([\w-]+)"', section)


def save_checkpoint(page, run, **fields) -> None:
    cp = Checkpoint(runId=run.pk, passId="p1", mode=run.mode, **fields)
    FacebookPage.objects.filter(pk=page.pk).update(sync_checkpoint=cp.to_json())
    page.refresh_from_db()


def make_run(page, status, **fields) -> SyncRun:
    return SyncRun.objects.create(
        page=page, status=status, mode=fields.pop("mode", "full"), **fields
    )


def test_unavailable_folders_and_removed_fields_are_shown(staff_client, admin_client, page):
    findings.record_folder(page, "spam", findings.REFUSED, "(#100) Param folder must be one of")
    findings.record_folder(page, "pending", findings.IGNORED, "answered with the inbox")
    findings.record_degraded_field(page, "snippet")

    html = screen(staff_client, page)
    live = render_event(page)
    admin = admin_client.get(reverse("admin:pages_facebookpage_change", args=[page.pk]))

    for shown in (html, live):
        assert "The <strong>spam</strong> folder: Facebook refuses to list it" in shown
        assert "The <strong>pending</strong> folder: Facebook ignores it" in shown
        assert "The <strong>snippet</strong> field no longer exists" in shown
    assert "&quot;refused&quot;" in admin.content.decode()


def test_a_folder_that_answers_again_is_no_longer_listed(staff_client, page):
    findings.record_folder(page, "spam", findings.REFUSED, "(#100)")
    findings.record_available_folder(page, "spam")

    html = screen(staff_client, page)

    assert findings.unavailable_folders(page) == {}
    assert "What Facebook does not give" not in html


def test_a_live_event_is_the_live_part_of_a_page_load(staff_client, page):
    sync(page)
    page.refresh_from_db()
    html = screen(staff_client, page)
    live = render_event(page)

    loaded = re.search(r'<div class="live-part".*</section>\s*</div>', html, re.S).group(0)
    strip_version = re.compile(r'data-version="\d+"')
    # Only the CSRF fields (a live event has no request) and the version differ.
    strip_csrf = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken"[^>]*>')
    assert (
        strip_csrf.sub("", strip_version.sub("", loaded)).split()
        == strip_version.sub("", live).split()
    )
    assert 'sse-swap="progress"' in html
    assert 'hx-swap="morph:innerHTML"' in html
    assert 'aria-live="polite"' not in live  # the announcer lives outside the live part


def test_not_synced_yet_offers_one_sync(staff_client, page):
    html = screen(staff_client, page)
    assert card(html).startswith("Not synced yet")
    assert buttons(html) == ["sync-button"]
    assert "<progress" not in html


def test_a_page_without_a_token_is_not_connected_and_offers_connect(staff_client, db):
    bare = FacebookPage.objects.create(facebook_id="100200300", name="Added in the admin")

    html = screen(staff_client, bare)

    assert "Not connected This Page has no access token" in card(html)
    assert buttons(html) == ["connect-link"]
    assert f"{reverse('pages:connect')}?page_id=100200300" in html
    assert 'id="fact-connection">Not connected<' in html
    with pytest.raises(PageNotConnected):
        queue_sync(bare, trigger=SyncRun.Trigger.WEB)
    response = staff_client.post(
        reverse("pages:sync", args=[bare.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Connect this page" in response
    assert not SyncRun.objects.exists()
    form = staff_client.get(reverse("pages:connect") + "?page_id=100200300").content.decode()
    assert 'value="100200300"' in form


def test_a_rejected_token_offers_reconnect_only_and_a_reconnect_clears_the_error(
    staff_client, page, sandbox
):
    sandbox.sandbox.inject("token_expired", after_calls=3)
    run = sync(page)
    page.refresh_from_db()
    assert run.status == "failed"
    assert page.needs_reconnect
    assert run.current > 0

    html = screen(staff_client, page)
    assert card(html).startswith("Needs reconnect Facebook no longer accepts")
    assert 'id="reconnect-form"' in html
    assert buttons(html) == ["reconnect-button"]

    sandbox.sandbox.set_token(page.facebook_id, "EAAB-fresh")
    connect_page(page.facebook_id, "EAAB-fresh")
    page.refresh_from_db()
    html = screen(staff_client, page)

    assert "rejected" not in card(html)
    assert card(html).startswith("Reconnected The Page was reconnected after this sync failed")
    assert buttons(html) == ["resume-button", "start-over-button"]


def test_start_over_after_a_cancelled_incremental_run_is_a_full_resync(staff_client, page):
    sync(page)
    cancelled = make_run(page, "cancelled", mode="incremental", current=5)
    save_checkpoint(page, cancelled, status="cancelled", current=5)

    html = screen(staff_client, page)
    assert "Start over (full re-sync)" in html
    assert "Start over is a full re-sync that walks every conversation again" in card(html)
    staff_client.post(reverse("pages:full_sync", args=[page.pk]), HTTP_HX_REQUEST="true")

    assert SyncRun.objects.order_by("-id").first().mode == "full"


def test_a_completed_page_can_be_fully_resynced_from_the_web(staff_client, page):
    sync(page)
    html = screen(staff_client, page)
    assert buttons(html) == ["sync-button", "full-sync-button"]

    staff_client.post(reverse("pages:sync", args=[page.pk]))
    assert SyncRun.objects.order_by("-id").first().mode == "incremental"
    SyncRun.objects.filter(status="queued").delete()
    staff_client.post(reverse("pages:full_sync", args=[page.pk]))
    assert SyncRun.objects.order_by("-id").first().mode == "full"


def test_a_run_stopped_at_its_first_conversation_never_says_0(staff_client, page):
    run = make_run(page, "cancelled", finished_at=timezone.now())
    save_checkpoint(page, run, status="cancelled")

    html = screen(staff_client, page)

    assert "Cancelled before any conversation was copied." in card(html)
    assert "#0" not in html
    assert buttons(html) == ["sync-button"]  # nothing to resume


def test_a_stopped_run_says_where_it_stopped_and_offers_resume(staff_client, page):
    run = make_run(page, "interrupted", current=150, total=300, finished_at=timezone.now())
    save_checkpoint(page, run, status="interrupted", current=150, total=300, folderIndex=1)

    html = screen(staff_client, page)

    assert "Sync interrupted Interrupted at conversation 150 of 300." in card(html)
    assert "Progress is saved: 150 of 300 conversations done." in card(html)
    assert buttons(html) == ["resume-button", "start-over-button"]
    assert "stopped (interrupted) at conversation 150 of 300, in the Other folder (2 of 5)" in (
        re.sub(r"\s+", " ", html)
    )


def test_a_paused_run_has_a_still_bar_and_a_countdown(staff_client, page):
    resume_at = timezone.now() + timedelta(seconds=90)
    run = make_run(page, "paused", current=40, total=60, resume_at=resume_at)
    save_checkpoint(page, run, status="paused", current=40, total=60)

    html = screen(staff_client, page)

    assert re.search(r'<progress id="sync-progress" class="sync-bar still"[^>]*value="40"', html)
    assert re.search(r"Resumes in <time data-countdown[^>]*>1 min (29|30) s</time>", html)
    assert buttons(html) == ["cancel-button"]


def test_census_then_walk_then_incremental_say_what_they_do(staff_client, page):
    run = make_run(page, "running", started_at=timezone.now())
    save_checkpoint(page, run, phase="census", census={"counts": {"inbox": 1200, "other": 12}})
    html = screen(staff_client, page)
    assert "Counting conversations: 1,212 so far…" in card(html)
    assert re.search(r'<progress id="sync-progress" class="sync-bar"[^>]*max="100">', html)

    def walked_a_minute(current: int) -> None:
        SyncRun.objects.filter(pk=run.pk).update(current=current, total=250)
        started = (timezone.now() - timedelta(seconds=60)).isoformat()
        save_checkpoint(page, run, total=250, current=current, walkStartedAt=started)

    walked_a_minute(14)
    html = screen(staff_client, page)
    assert "Processing conversation #15 of 250" in card(html)
    assert "5% · 14 of 250 conversations · Inbox · 1 of 5 folders" in card(html)
    # 14 conversations in a minute: a rate, but not yet enough for a stable ETA.
    assert "0.2 conversations/s" in card(html)
    assert "left" not in card(html)
    assert re.search(r'<progress id="sync-progress" class="sync-bar"[^>]*value="14"', html)

    walked_a_minute(120)
    html = screen(staff_client, page)
    assert re.search(r"2\.0 conversations/s · about 1 min [56] s left", card(html))

    SyncRun.objects.filter(pk=run.pk).update(status="complete")
    make_run(page, "running", mode="incremental", inserted=2, updated=10)
    html = screen(staff_client, page)
    assert "Checking recent conversations: 12 changed so far" in card(html)


def test_a_queued_run_no_worker_takes_says_so(staff_client, page):
    run = make_run(page, "queued")
    assert "Waiting for a worker…" in card(screen(staff_client, page))

    SyncRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - WAIT_WARNING_AFTER)
    html = screen(staff_client, page)
    assert "No worker is running: start manage.py run_worker" in card(html)
    assert "No worker has run yet." in card(html)
    assert "<code>manage.py run_worker</code>" in html

    beat = WorkerHeartbeat.objects.create(worker_id="w1", host="h", pid=1)
    html = screen(staff_client, page)
    assert "Waiting for a free worker…" in card(html)
    assert "Running: last seen" in html

    WorkerHeartbeat.objects.filter(pk=beat.pk).update(stopped_at=timezone.now())
    html = screen(staff_client, page)
    assert "No worker is running" in card(html)
    assert "A worker was last seen just now." in card(html)


def test_a_complete_run_adds_up_and_lists_its_problems(staff_client, page, sandbox):
    sync(page)
    stored = Conversation.objects.filter(page=page).first()
    run = SyncRun.objects.get()
    problems = [
        {"id": stored.facebook_id, "error": "a time outside 1970–2100"},
        {"id": "t_missing", "error": "an id too long"},
    ]
    SyncRun.objects.filter(pk=run.pk).update(
        problems=problems, problem_count=3, inserted=50, skipped=7, updated=0
    )

    html = screen(staff_client, page)
    text = card(html)

    assert "Sync complete 60 conversations checked, finished just now" in text
    for tile in ("+50 New", "0 Updated", "7 Unchanged", "Events", "3 Problems"):
        assert tile in text
    assert "100%" in text
    assert f'href="{reverse("conversations:detail", args=[stored.pk])}"' in html
    assert "Conversation <code>t_missing</code> (not stored): an id too long" in html
    assert "…and 1 more" in html
    assert re.search(
        r'<progress id="sync-progress" class="sync-bar still"[^>]*max="60" value="60"', html
    )


def test_the_screen_summarises_the_checkpoint_and_hides_its_json(staff_client, page, settings):
    settings.SYNC_SCHEDULE_INTERVAL_SECONDS = 3600
    sync(page)
    FacebookPage.objects.filter(pk=page.pk).update(
        next_scheduled_sync_at=timezone.now() + timedelta(minutes=30)
    )
    page.refresh_from_db()

    html = re.sub(r"\s+", " ", screen(staff_client, page))

    assert "The last sync completed <time" in html
    assert '<details id="technical-details" class="technical"> <summary>Technical details' in html
    assert "&quot;passId&quot;" in html.split('id="technical-details"')[1]
    assert "&quot;passId&quot;" not in html.split('id="technical-details"')[0]
    stamp = r'<time datetime="[^"]+" data-stamp>\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>'
    assert re.search(rf"Last successful sync</dt><dd>{stamp} \(<time [^>]*>just now<", html)
    assert re.search(rf"Next scheduled sync</dt><dd>{stamp} \(<time [^>]*>in 29", html)


def test_names_are_isolated_for_right_to_left_scripts(staff_client, page):
    FacebookPage.objects.filter(pk=page.pk).update(name="חנות האופניים")
    run = make_run(page, "running", current_name="محمد")
    page.refresh_from_db()
    html = screen(staff_client, page)
    assert "<h1><bdi>חנות האופניים</bdi></h1>" in html
    assert "Now: <bdi>محمد</bdi>" in html
    assert run.pk == panel_context(page)["run"].pk
