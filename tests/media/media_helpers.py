"""Helpers for tests/media: a synced sandbox Page and its downloads run in-process."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django_tasks_db.models import DBTaskResult

from media import work
from media.models import MediaAttachment, StoredFile
from media.tasks import collect_task
from pages.models import FacebookPage
from tests.helpers import sync


def synced(page: FacebookPage, capture) -> None:
    """Sync the Page; its commits must queue one coalesced collect task on the media queue."""
    with capture(execute=True):
        sync(page)
    queued = DBTaskResult.objects.filter(task_path=collect_task.module_path, queue_name="media")
    assert [r.args_kwargs["args"] for r in queued] == [[page.pk]]


def run_downloads(page: FacebookPage) -> None:
    work.collect(page.pk)
    assert work.download_due(page.pk, seconds=120)


def files_in(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def assert_storage_matches_rows(root: Path) -> None:
    """Every StoredFile is one file in storage, named by the sha256 of its bytes, and there
    is no other file."""
    files = files_in(root)
    assert len(files) == StoredFile.objects.count()
    for stored in StoredFile.objects.all():
        data = (Path(root) / stored.storage_name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == stored.sha256
        assert len(data) == stored.size
        assert stored.sha256 in stored.storage_name


def rows(page: FacebookPage, **filters):
    return MediaAttachment.objects.filter(page=page, **filters)
