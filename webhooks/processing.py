"""Processing a stored delivery: once, whoever asks (the task, housekeeping, a retry).

- **Claim.** The first statement of the transaction is a conditional UPDATE (`received` or
  `waiting` → attempts + 1): concurrent processors of one delivery queue on its row lock (the
  database's write lock on SQLite) and the later ones find it processed and do nothing.
- **All or nothing.** The events are applied in a savepoint (webhooks.apply). An error rolls
  them all back and leaves the delivery `received`, with a safe error text, for housekeeping to
  try again; after MAX_ATTEMPTS it is `failed`. A body that is not JSON is `failed` at once.
- **People with no conversation.** Webhooks carry PSIDs, not thread ids: a message from a
  person whose conversation we do not hold leaves the delivery `waiting` and queues an
  incremental sync of the Page (trigger "webhook"), which learns the conversation and stores its
  newest messages, this one among them. When a sync is active already, none is queued: once no
  sync of the Page is active, housekeeping processes the delivery again (`retry_stalled`), which
  queues one if the conversation is still unknown. It gives up (processed, with a note) when a
  sync queued after the delivery arrived completed without listing the conversation, after
  MAX_WAITS attempts, or when the Page cannot sync.
- **Live.** After commit, each conversation that changed is announced once
  (conversations.live).
"""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from conversations.live import publish_conversation_changed
from media.pipeline import note_new_messages
from pages.models import FacebookPage, SyncRun
from pages.sync.runs import SyncAlreadyRunning, active_runs
from pages.tasks import PageCannotSync, queue_sync
from webhooks import events
from webhooks.apply import Applied, DeliveryApplier
from webhooks.models import WebhookDelivery

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status
OPEN = (Status.RECEIVED, Status.WAITING)
# A delivery whose processing keeps failing is marked failed after this many attempts.
MAX_ATTEMPTS = 5
# Attempts a delivery waits for syncs to learn a new person's conversation before giving up.
MAX_WAITS = 4
# Housekeeping processes at most this many stalled deliveries per round.
RETRY_BATCH = 100


def process_delivery(delivery_id: int) -> str | None:
    """Process a stored delivery if it is still open; its new status (None: nothing to do)."""
    with transaction.atomic():
        now = timezone.now()
        claimed = WebhookDelivery.objects.filter(pk=delivery_id, status__in=OPEN).update(
            attempts=F("attempts") + 1, attempted_at=now
        )
        if not claimed:
            return None
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        try:
            payload = events.decode(bytes(delivery.body))
        except events.NotJson as exc:
            return _finish(delivery, Status.FAILED, error=f"{exc}; kept as received.")
        try:
            with transaction.atomic():
                applied = DeliveryApplier().apply(events.events_of(payload))
        except Exception as exc:
            # The message of a database error can quote the values (personal data): the
            # delivery's id and the error's class say enough to look at the raw delivery.
            logger.warning(
                "Processing webhook delivery #%s failed (%s)", delivery_id, type(exc).__name__
            )
            failed = delivery.attempts >= MAX_ATTEMPTS
            return _finish(
                delivery,
                Status.FAILED if failed else Status.RECEIVED,
                error=f"Processing failed ({type(exc).__name__}); attempt {delivery.attempts}.",
            )
        _record_webhook_time(applied, delivery)
        for page_pk in sorted(applied.pages) if applied.messages_stored else ():
            note_new_messages(page_pk)  # their attachments are downloaded after the commit
        status, notes = _wait_or_give_up(applied, delivery)
        _finish(delivery, status, applied=applied, error=" ".join(notes))
        touched = sorted(applied.touched)
        transaction.on_commit(lambda: _publish(touched))
        return status


def _finish(
    delivery: WebhookDelivery, status: str, *, error: str, applied: Applied | None = None
) -> str:
    changes: dict = {"status": status, "error": error}
    if status in (Status.PROCESSED, Status.FAILED):
        changes["processed_at"] = timezone.now()
    if applied is not None:
        changes.update(
            events=applied.events,
            messages_stored=F("messages_stored") + applied.messages_stored,
            unknown_kinds=dict(applied.unknown_kinds),
        )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**changes)
    return status


def _record_webhook_time(applied: Applied, delivery: WebhookDelivery) -> None:
    """Each Page named by the delivery records when a delivery last arrived for it."""
    received = delivery.received_at
    FacebookPage.objects.filter(
        Q(last_webhook_at__lt=received) | Q(last_webhook_at__isnull=True), pk__in=applied.pages
    ).update(last_webhook_at=received)


def _wait_or_give_up(applied: Applied, delivery: WebhookDelivery) -> tuple[str, list[str]]:
    notes = []
    if applied.unreadable:
        notes.append(f"{applied.unreadable} events could not be read.")
    if applied.other_pages:
        notes.append(f"{applied.other_pages} events are for Pages not connected here.")
    status = Status.PROCESSED
    for page in FacebookPage.objects.filter(pk__in=list(applied.waiting)):
        count = applied.waiting[page.pk]
        reason = _reason_to_give_up(page, delivery)
        if reason:
            notes.append(f"{count} messages on {page} not stored: {reason}.")
            continue
        status = Status.WAITING
        _ask_for_sync(page)
    return status, notes


def _reason_to_give_up(page: FacebookPage, delivery: WebhookDelivery) -> str:
    if not page.is_connected or page.needs_reconnect:
        return "the Page must be connected again before it can sync"
    synced_since = SyncRun.objects.filter(
        page=page, created_at__gt=delivery.received_at, status=SyncRun.Status.COMPLETE
    )
    if synced_since.exists():
        return "a sync since found no conversation with that person"
    if delivery.attempts >= MAX_WAITS:
        return f"no sync found the conversation after {delivery.attempts} attempts"
    return ""


def _ask_for_sync(page: FacebookPage) -> None:
    if active_runs(page).exists():
        return  # housekeeping processes the delivery again once that run is over
    # Another process may queue one at the same instant, or the Page just lost its token.
    with suppress(SyncAlreadyRunning, PageCannotSync):
        queue_sync(page, trigger=SyncRun.Trigger.WEBHOOK)


def _publish(touched: list[tuple[int, int]]) -> None:
    for page_pk, conversation_pk in touched:
        publish_conversation_changed(page_pk, conversation_pk)


def retry_stalled() -> int:
    """Process the deliveries left behind: `received` ones whose task never ran or failed
    (a lost enqueue, a crash, a database error) once WEBHOOK_RETRY_AFTER_SECONDS have passed,
    and `waiting` ones whose Pages have no active sync. Returns how many were processed."""
    now = timezone.now()
    quiet = now - timedelta(seconds=settings.FACEBOOK_WEBHOOK_RETRY_AFTER_SECONDS)
    stalled = WebhookDelivery.objects.filter(
        Q(attempted_at__lt=quiet) | Q(attempted_at__isnull=True),
        status=Status.RECEIVED,
        received_at__lt=quiet,
    )
    # A history backfill learns nobody new: only a main run makes a delivery wait.
    busy_pages = (
        SyncRun.objects.filter(status__in=SyncRun.ACTIVE_STATUSES)
        .exclude(mode__in=SyncRun.BACKGROUND_MODES)
        .values("page__facebook_id")
    )
    waiting = WebhookDelivery.objects.filter(status=Status.WAITING).exclude(
        mentions__page_facebook_id__in=busy_pages
    )
    ids = list(stalled.order_by("received_at").values_list("pk", flat=True)[:RETRY_BATCH])
    ids += list(waiting.order_by("received_at").values_list("pk", flat=True)[:RETRY_BATCH])
    return sum(1 for delivery_id in ids if process_delivery(delivery_id) is not None)
