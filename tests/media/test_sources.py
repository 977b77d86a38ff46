"""Every way a message arrives queues its attachments: a webhook delivery (processed, then the
collect task on commit) as well as the sync (tests/media/test_pipeline.py)."""

from __future__ import annotations

import pytest
from django_tasks_db.models import DBTaskResult

from media.models import StoredFile
from media.tasks import collect_task
from tests.graph_sandbox.test_webhook_sender import Receiver
from tests.media.media_helpers import assert_storage_matches_rows, rows, run_downloads, synced
from tests.webhooks.bodies import body
from webhooks.processing import process_delivery
from webhooks.views import store

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.mark.parametrize(
    ("kind", "content_type"), [("image", "image/jpeg"), ("audio", "audio/mpeg")]
)
def test_a_webhooks_attachment_is_kept(
    page, sandbox, receiver, media_root, django_capture_on_commit_callbacks, kind, content_type
):
    synced(page, django_capture_on_commit_callbacks)
    run_downloads(page)
    files = StoredFile.objects.count()
    DBTaskResult.objects.all().delete()
    sandbox.sandbox.configure_webhooks(receiver.url, retry_delay_seconds=0.01)
    [event] = sandbox.sandbox.send_webhooks(page.facebook_id, attachment=kind)["events"]
    assert sandbox.sandbox.wait_for_webhooks(10)
    delivery = store(body(*receiver.items(), page_id=page.facebook_id))
    with django_capture_on_commit_callbacks(execute=True):
        assert process_delivery(delivery.pk) == "processed"
    queued = DBTaskResult.objects.filter(task_path=collect_task.module_path)
    assert [r.args_kwargs["args"] for r in queued] == [[page.pk]]
    collect_task.call(page.pk)
    row = rows(page, message__facebook_id=event["mid"]).select_related("file").get()
    assert (row.kind, row.state, row.file.content_type) == (kind, "stored", content_type)
    assert StoredFile.objects.count() == files + 1
    assert_storage_matches_rows(media_root)
