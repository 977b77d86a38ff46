"""Verify mode's entry points and displays: the Page screen's card and history, the admin's
actions and run view, and `sync_page --verify [--repair]` as a real process."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.urls import reverse

from conversations.models import Conversation, Message
from pages.models import SyncRun
from pages.tasks import sync_page_task
from tests.helpers import manage, stored_state, sync
from tests.truth import truth_of

pytestmark = pytest.mark.django_db


def screen(client, page) -> str:
    return client.get(reverse("pages:detail", args=[page.pk])).content.decode()


def card(html: str) -> str:
    section = re.search(r'<section id="sync-card".*?</section>', html, re.S).group(0)
    section = re.sub(r'<span aria-hidden="true">.*?</span>', "", section)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section)).strip()
    return unescape(re.sub(r" ([.,:;])", r"\1", text))


def history_rows(html: str) -> list[str]:
    table = re.search(r'<table class="history">.*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def damage(page, truth) -> tuple[str, str]:
    """One conversation and one message deleted; returns their ids."""
    conversation = truth["conversations"][0]["id"]
    message = truth["conversations"][1]["message_ids"][0]
    Conversation.objects.get(page=page, facebook_id=conversation).delete()
    Message.objects.get(page=page, facebook_id=message).delete()
    return conversation, truth["conversations"][1]["id"]


def test_a_running_verify_says_what_it_does(staff_client, page):
    run = SyncRun.objects.create(
        page=page, mode="verify", status="running", report={"phase": "listing", "listed": 400}
    )
    html = screen(staff_client, page)
    assert "Verifying against Facebook" in card(html)
    assert "Reading Facebook's list of conversations: 400 so far…" in card(html)

    SyncRun.objects.filter(pk=run.pk).update(
        current=120, total=250, report={"phase": "checking", "listed": 250, "checked": 120}
    )
    html = screen(staff_client, page)
    assert "Verifying: 120 of 250 conversations checked" in card(html)
    assert re.search(r'<progress id="sync-progress"[^>]*max="250" value="120"', html)
    assert "Cancel" in card(html)

    SyncRun.objects.filter(pk=run.pk).update(mode="repair")
    assert "Verifying and repairing" in card(screen(staff_client, page))


def test_the_card_and_history_tell_what_a_verify_found_and_repaired(staff_client, page, sandbox):
    truth = truth_of(sandbox, page)
    sync(page)
    conversation, thinned = damage(page, truth)
    run = SyncRun.objects.create(page=page, mode="verify", trigger="web")
    assert sync_page_task.call(run.pk) == "complete"

    html = screen(staff_client, page)
    text = card(html)
    assert "Verify found missing data" in text
    assert "Missing: 1 conversation and 1 message in 1 conversation (60 of 60" in text
    assert f"Conversation {conversation}: not stored" in text
    assert f"Conversation {thinned}: 1 message missing" in text
    assert "Sync from Facebook" in text  # a verify changes nothing the sync offers
    rows = history_rows(html)
    assert rows[0].startswith("Started Mode Result")
    assert "Duplicates prevented" in rows[0]
    assert "Verify Complete · 2 missing" in rows[1]

    repair = SyncRun.objects.create(page=page, mode="repair", trigger="web")
    assert sync_page_task.call(repair.pk) == "complete"
    repair.refresh_from_db()

    html = screen(staff_client, page)
    assert "Repaired: nothing missing any more" in card(html)
    assert f"Conversation {conversation}: not stored (repaired)" in card(html)
    rows = history_rows(html)
    assert "Verify and repair Complete · 2 missing, 2 repaired" in rows[1]
    # The column holds each run's count: the thinned thread's other messages were read again.
    again = min(25, len(truth["conversations"][1]["message_ids"])) - 1
    assert repair.duplicates_prevented == again > 0
    column = re.findall(r'data-label="Duplicates prevented">(\d+)<', html)
    assert column[0] == str(again)


def test_admin_actions_queue_a_verify_and_a_repair(admin_client, page, sandbox):
    truth = truth_of(sandbox, page)
    sync(page)
    damage(page, truth)
    url = reverse("admin:pages_facebookpage_changelist")

    response = admin_client.post(
        url, {"action": "verify", "_selected_action": [page.pk]}, follow=True
    )

    assert "Queued 1 sync(s)." in response.content.decode()
    run = SyncRun.objects.get(status="queued")
    assert (run.mode, run.trigger) == ("verify", "admin")
    busy = admin_client.post(
        url, {"action": "verify_and_repair", "_selected_action": [page.pk]}, follow=True
    )
    assert "1 page(s) already syncing." in busy.content.decode()
    assert sync_page_task.call(run.pk) == "complete"

    admin_client.post(url, {"action": "verify_and_repair", "_selected_action": [page.pk]})
    repair = SyncRun.objects.get(status="queued")
    assert repair.mode == "repair"
    assert sync_page_task.call(repair.pk) == "complete"
    repair.refresh_from_db()
    assert repair.report["repairedConversations"] == 1
    assert repair.report["repairedMessages"] == 1

    change = admin_client.get(reverse("admin:pages_syncrun_change", args=[repair.pk]))
    html = change.content.decode()
    assert "Duplicates prevented" in html
    assert "Repaired: 1 conversation and 1 message" in html
    changelist = admin_client.get(reverse("admin:pages_syncrun_changelist")).content.decode()
    assert "Duplicates prevented" in changelist


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sync_page_verify_and_repair_as_a_process(sandbox, page):
    truth = truth_of(sandbox, page)
    assert manage(sandbox, "sync_page", page.facebook_id).returncode == 0
    before = stored_state(page)
    conversation, thinned = damage(page, truth)

    found = manage(sandbox, "sync_page", page.facebook_id, "--verify")

    assert found.returncode == 1, found.stderr
    lines = found.stdout.splitlines()
    assert lines[0].startswith("Missing: 1 conversation and 1 message in 1 conversation")
    assert f"  {conversation}: conversation not stored" in lines
    assert f"  {thinned}: 1 message missing" in lines
    assert Conversation.objects.filter(page=page).count() == 59  # stored nothing

    repaired = manage(sandbox, "sync_page", page.facebook_id, "--verify", "--repair", "--json")

    assert repaired.returncode == 0, repaired.stderr
    result = json.loads(repaired.stdout.splitlines()[-1])
    assert (result["mode"], result["status"]) == ("repair", "complete")
    assert result["report"]["repairedConversations"] == 1
    assert result["report"]["repairedMessages"] == 1
    assert f"  {thinned}: 1 message missing, 1 repaired" in repaired.stdout
    assert stored_state(page) == before

    clean = manage(sandbox, "sync_page", page.facebook_id, "--verify")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith("Nothing missing: 60 of 60 conversations checked.")

    for wrong in (["--repair"], ["--verify", "--full"], ["--verify", "--resume"]):
        refused = manage(sandbox, "sync_page", page.facebook_id, *wrong)
        assert refused.returncode == 1
        assert "--verify" in refused.stderr
