"""The task that processes a stored delivery (thin: webhooks.processing does the work).

Enqueued on commit of the delivery's row on the "webhooks" queue, which every worker polls in
a lane of its own (pages/management/commands/run_worker.py), every WEBHOOK_POLL_SECONDS: a
worker busy with a long sync still processes deliveries at once. Housekeeping processes a
delivery left unprocessed after FACEBOOK_WEBHOOK_RETRY_AFTER_SECONDS in any case (a lost
enqueue, a worker killed mid-delivery)."""

from __future__ import annotations

from django.tasks import task

from webhooks.processing import process_delivery

QUEUE = "webhooks"
PRIORITY = 10


@task(priority=PRIORITY, queue_name=QUEUE)
def process_delivery_task(delivery_id: int) -> str | None:
    return process_delivery(delivery_id)
