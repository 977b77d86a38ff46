"""The task that processes a stored delivery (thin: webhooks.processing does the work).

Enqueued on commit of the delivery's row, ahead of queued syncs (priority): a worker busy with
a long sync still delays it, so run more than one worker where webhooks must stay live; and
housekeeping processes a delivery left unprocessed after FACEBOOK_WEBHOOK_RETRY_AFTER_SECONDS
in any case."""

from __future__ import annotations

from django.tasks import task

from webhooks.processing import process_delivery

PRIORITY = 10


@task(priority=PRIORITY)
def process_delivery_task(delivery_id: int) -> str | None:
    return process_delivery(delivery_id)
