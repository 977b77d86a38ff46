"""pages.retention: a Page's messages and events older than its retention go, in batches of
short transactions; conversations stay; housekeeping applies it once per interval, whichever
worker takes the turn. The data comes from a real sync of the Graph sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conversations.models import Conversation, InteractionEvent, Message
from media import work
from media.models import MediaAttachment, StoredFile
from pages import schedule
from pages.models import FacebookPage
from pages.retention import RetentionCounts, apply_due_retention, apply_retention
from tests.helpers import connect, point_settings_at, sync
from webhooks.models import DeliveryMention, WebhookDelivery

pytestmark = pytest.mark.django_db

DAYS = 30


@pytest.fixture
def synced(page):
    sync(page)
    page.refresh_from_db()
    return page


def ordered_messages(page) -> QuerySet[Message]:
    return Message.objects.filter(page=page).order_by("created_time", "id")


def now_keeping_all_but_oldest(page, count: int):
    """A `now` at which exactly the Page's `count` oldest messages are past DAYS days."""
    times = list(ordered_messages(page).values_list("created_time", flat=True)[: count + 1])
    assert len(times) == count + 1
    assert times[count - 1] < times[count], "the sandbox's data must separate them"
    return times[count] + timedelta(days=DAYS)


def conversation_rows(page) -> list[dict]:
    return list(Conversation.objects.filter(page=page).order_by("pk").values())


def set_retention(page, days: int | None) -> None:
    FacebookPage.objects.filter(pk=page.pk).update(retention_days=days)
    page.refresh_from_db()


def test_a_batch_size_of_3_over_10_old_messages_deletes_exactly_those(synced):
    set_retention(synced, DAYS)
    now = now_keeping_all_but_oldest(synced, 10)
    all_ids = list(ordered_messages(synced).values_list("facebook_id", flat=True))
    assert len(all_ids) > 100

    with CaptureQueriesContext(connection) as queries:
        counts = apply_retention(synced, now=now, batch_size=3)

    assert counts.messages == 10
    assert list(ordered_messages(synced).values_list("facebook_id", flat=True)) == all_ids[10:]
    deletes = [
        q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "conversations_message"')
    ]
    assert len(deletes) == 4  # 3 + 3 + 3 + 1


def test_events_older_than_the_retention_go_too_conversations_stay(synced):
    set_retention(synced, DAYS)
    now = now_keeping_all_but_oldest(synced, 10)
    cutoff = now - timedelta(days=DAYS)
    events = InteractionEvent.objects.filter(page=synced)
    old = set(events.filter(occurred_at__lt=cutoff).values_list("kind", "source_id"))
    kept = set(events.filter(occurred_at__gte=cutoff).values_list("kind", "source_id"))
    assert {kind for kind, _ in old} >= {"conversation_started", "message_sent"}
    conversations = conversation_rows(synced)

    counts = apply_retention(synced, now=now, batch_size=4)

    assert counts == RetentionCounts(messages=10, events=len(old))
    assert set(events.values_list("kind", "source_id")) == kept
    # The rows, snippets, counts and times of conversations are untouched.
    assert conversation_rows(synced) == conversations


def test_only_this_pages_rows_go(make_graph_sandbox, settings):
    server = make_graph_sandbox(conversations=8, seed=3, pages=2)
    point_settings_at(settings, server)
    first, second = connect(server, 0), connect(server, 1)
    sync(first)
    sync(second)
    second_messages = Message.objects.filter(page=second).count()
    set_retention(first, 1)

    counts = apply_retention(first, now=timezone.now() + timedelta(days=36_500))

    assert counts.messages > 0
    assert not Message.objects.filter(page=first).exists()
    assert not InteractionEvent.objects.filter(page=first).exists()
    assert Conversation.objects.filter(page=first).count() == 8
    assert Message.objects.filter(page=second).count() == second_messages


@pytest.mark.parametrize("days", [None, 0])
def test_a_page_without_retention_keeps_everything(synced, days):
    set_retention(synced, days)
    before = (Message.objects.count(), InteractionEvent.objects.count())

    counts = apply_retention(synced, now=timezone.now() + timedelta(days=36_500))

    assert counts == RetentionCounts()
    assert (Message.objects.count(), InteractionEvent.objects.count()) == before
    # Nor does housekeeping take a turn for it.
    assert apply_due_retention() == {}
    synced.refresh_from_db()
    assert synced.retention_applied_at is None


@pytest.mark.django_db(transaction=True)
def test_each_batch_is_its_own_transaction(synced, monkeypatch):
    """A failure in the third batch keeps the two batches done before it; the next
    application finishes the work."""
    set_retention(synced, DAYS)
    now = now_keeping_all_but_oldest(synced, 10)
    real_delete = QuerySet.delete
    calls = []

    def failing_third(queryset):
        if queryset.model is Message:
            calls.append(1)
            if len(calls) == 3:
                raise RuntimeError("the database went away")
        return real_delete(queryset)

    monkeypatch.setattr(QuerySet, "delete", failing_third)
    total = Message.objects.count()
    with pytest.raises(RuntimeError):
        apply_retention(synced, now=now, batch_size=3)
    assert Message.objects.count() == total - 6

    monkeypatch.setattr(QuerySet, "delete", real_delete)
    assert apply_retention(synced, now=now, batch_size=3).messages == 4
    assert Message.objects.count() == total - 10


def test_housekeeping_takes_a_pages_turn_once_per_interval(synced, settings):
    settings.RETENTION_INTERVAL_SECONDS = 3600
    set_retention(synced, DAYS)
    now = now_keeping_all_but_oldest(synced, 10)

    first = apply_due_retention(now)
    again = apply_due_retention(now + timedelta(minutes=59))

    assert first == {synced.pk: RetentionCounts(messages=10, events=first[synced.pk].events)}
    assert again == {}
    synced.refresh_from_db()
    assert synced.retention_applied_at == now
    # After the interval it is due again (nothing more is old by then but the newest day).
    later = apply_due_retention(now + timedelta(hours=1))
    assert list(later) == [synced.pk]


def test_of_two_workers_one_takes_the_turn(synced, settings):
    """Two workers read the Page as due at once; the conditional UPDATE lets one apply it."""
    set_retention(synced, DAYS)
    now = now_keeping_all_but_oldest(synced, 10)
    seen_by_other = FacebookPage.objects.get(pk=synced.pk)

    assert list(apply_due_retention(now)) == [synced.pk]
    assert not seen_by_other.take_turn("retention_applied_at", now)


def test_the_workers_housekeeping_applies_it(synced, settings):
    """`schedule.housekeeping()`, as every worker runs it, applies the retention counted from
    the present time; a second round right after does nothing more."""
    settings.SYNC_SCHEDULE_INTERVAL_SECONDS = 0
    set_retention(synced, 3 * 365)  # the sandbox's messages are from the last two years
    oldest = list(ordered_messages(synced).values_list("pk", flat=True)[:10])
    Message.objects.filter(pk__in=oldest).update(created_time="2020-01-01T00:00:00Z")
    total = Message.objects.count()

    schedule.housekeeping()
    synced.refresh_from_db()
    applied_at = synced.retention_applied_at
    schedule.housekeeping()

    assert applied_at is not None
    assert not Message.objects.filter(pk__in=oldest).exists()
    assert Message.objects.count() == total - 10
    synced.refresh_from_db()
    assert synced.retention_applied_at == applied_at


def test_files_only_old_messages_needed_are_removed_with_them(
    page, settings, tmp_path, django_capture_on_commit_callbacks
):
    """With the media app: the attachments' rows go with their messages, then the stored
    files no remaining message needs (bytes and row); files still needed stay."""
    settings.MEDIA_ROOT = tmp_path / "media-store"
    with django_capture_on_commit_callbacks(execute=True):
        sync(page)
    work.collect(page.pk)
    assert work.download_due(page.pk, seconds=120)
    stored = MediaAttachment.objects.filter(page=page, state="stored")
    assert stored.count() >= 5
    # Past the media housekeeping's grace for young files (a download in flight).
    StoredFile.objects.update(created_at=timezone.now() - timedelta(days=1))
    with_media = list(
        Message.objects.filter(page=page, media__state="stored")
        .order_by("created_time", "id")
        .distinct()
        .values_list("created_time", flat=True)
    )
    cutoff = with_media[len(with_media) // 2]
    old = stored.filter(message__created_time__lt=cutoff)
    needed = set(stored.filter(message__created_time__gte=cutoff).values_list("file", flat=True))
    doomed = set(old.values_list("file", flat=True)) - needed
    assert doomed
    assert needed
    set_retention(page, DAYS)

    counts = apply_retention(page, now=cutoff + timedelta(days=DAYS))

    assert counts.files == len(doomed)
    assert not old.exists()
    assert set(StoredFile.objects.values_list("pk", flat=True)) == needed
    on_disk = sorted(p.name for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    assert len(on_disk) == len(needed)
    assert all(any(f.sha256 in name for name in on_disk) for f in StoredFile.objects.all())


def test_processed_webhook_deliveries_older_than_the_retention_go_too(synced):
    page = synced
    set_retention(page, 30)
    now = timezone.now()

    def delivery(age_days: int, status: str, page_id: str) -> WebhookDelivery:
        made = WebhookDelivery.objects.create(
            body=b"{}",
            sha256=f"{age_days}-{status}-{page_id}".ljust(64, "0"),
            received_at=now - timedelta(days=age_days),
            status=status,
        )
        DeliveryMention.objects.create(delivery=made, page_facebook_id=page_id, psid="1")
        return made

    old = delivery(40, WebhookDelivery.Status.PROCESSED, page.facebook_id)
    recent = delivery(5, WebhookDelivery.Status.PROCESSED, page.facebook_id)
    unprocessed = delivery(40, WebhookDelivery.Status.RECEIVED, page.facebook_id)
    another_page = delivery(41, WebhookDelivery.Status.PROCESSED, "999")

    apply_retention(page, now=now)

    left = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert left == {recent.pk, unprocessed.pk, another_page.pk}
    assert old.pk not in left
