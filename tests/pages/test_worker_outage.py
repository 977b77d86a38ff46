"""A worker outlives its database going away (a restart, a failover, "too many clients"):
it closes its connections, backs off, reconnects and goes on running syncs."""

import time

import pytest
from django.db import connection

from pages.models import SyncRun
from tests.helpers import connect, point_settings_at
from tests.truth import assert_matches_truth, truth_of
from tests.workers import enqueue, start_worker, wait_for_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def drop_other_connections() -> int:
    """What a server restart does to every client: their connections are cut."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_the_worker_survives_its_database_connections_being_cut(make_graph_sandbox, settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs a database server whose connections can be cut (CI runs PostgreSQL)")
    server = make_graph_sandbox(conversations=40, seed=3)
    point_settings_at(settings, server)
    page = connect(server)
    worker = start_worker(server)
    try:
        # The worker's connections come and go (housekeeping closes its own after each beat),
        # so cut as soon as one is seen rather than trusting that it is still there later.
        deadline = time.monotonic() + 30
        cut = 0
        while not cut:
            assert time.monotonic() < deadline, "the worker never connected"
            cut += drop_other_connections()
            time.sleep(0.05)

        for _ in range(5):  # an outage of a couple of seconds: every reconnect is cut again
            cut += drop_other_connections()
            time.sleep(0.4)
        assert worker.poll() is None, worker.communicate()

        run = wait_for_run(enqueue(page), lambda r: r.status == SyncRun.Status.COMPLETE, 60)
        assert run.current == len(truth_of(server, page)["conversations"])
        assert_matches_truth(page, truth_of(server, page))
        assert worker.poll() is None
    finally:
        worker.terminate()
        worker.communicate(timeout=30)
