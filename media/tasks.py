"""The media tasks (thin: media.work does the work), on the "media" queue, which every
worker polls in a lane of its own (pages/management/commands/run_worker.py), so a download
never waits for a long sync (its URL is used while it is fresh) and never delays a webhook."""

from __future__ import annotations

from django.db import transaction
from django.tasks import task

from media import work

QUEUE = "media"
PRIORITY = 0


@task(priority=PRIORITY, queue_name=QUEUE)
def collect_task(page_id: int) -> int:
    """New messages' attachments: rows created, then downloaded."""
    created = work.collect(page_id)
    _download_or_continue(page_id)
    return created


@task(priority=PRIORITY, queue_name=QUEUE)
def download_task(page_id: int) -> bool:
    """Due downloads of the Page (retries, the rest of a long pass)."""
    return _download_or_continue(page_id)


def _download_or_continue(page_id: int) -> bool:
    done = work.download_due(page_id)
    if not done:  # more is due: another task, so the lane serves others in between
        transaction.on_commit(lambda: download_task.enqueue(page_id))
    return done
