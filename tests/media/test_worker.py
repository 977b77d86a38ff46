"""A real worker (`manage.py run_worker`) downloads a sync's attachments from its media lane,
with the task enqueued by the sync's commits: nothing runs in-process."""

from __future__ import annotations

import time

import pytest

from media.models import MediaAttachment, StoredFile
from tests.helpers import connect, point_settings_at, spawn_manage, sync
from tests.media.media_helpers import assert_storage_matches_rows
from tests.workers import WORKER_ENV

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_worker_downloads_a_syncs_attachments(make_graph_sandbox, settings, media_root):
    server = make_graph_sandbox(conversations=30, seed=7, latency_ms=0)
    point_settings_at(settings, server)
    page = connect(server)
    assert sync(page).status == "complete"  # its commits queue the collect task
    assert not MediaAttachment.objects.exists()  # nothing ran in this process
    worker = spawn_manage(
        server, "run_worker", "--no-startup-delay", "--verbosity", "0",
        MEDIA_ROOT=str(media_root), **WORKER_ENV,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            states = set(MediaAttachment.objects.values_list("state", flat=True))
            if states == {"stored"}:
                break
            assert time.monotonic() < deadline, f"downloads stuck: {states}"
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.communicate(timeout=30)
    assert MediaAttachment.objects.count() >= 5
    assert StoredFile.objects.count() >= 5
    assert_storage_matches_rows(media_root)
