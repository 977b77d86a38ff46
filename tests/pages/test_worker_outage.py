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


def other_backends() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


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
        deadline = time.monotonic() + 30
        while not other_backends():  # the worker (and its housekeeping) connected
            assert time.monotonic() < deadline, "the worker never connected"
            time.sleep(0.1)

        cut = 0
        for _ in range(5):  # an outage of a couple of seconds: every reconnect is cut again
            cut += drop_other_connections()
            time.sleep(0.4)
        assert cut >= 1
        assert worker.poll() is None, worker.communicate()

        run = wait_for_run(enqueue(page), lambda r: r.status == SyncRun.Status.COMPLETE, 60)
        assert run.current == len(truth_of(server, page)["conversations"])
        assert_matches_truth(page, truth_of(server, page))
        assert worker.poll() is None
    finally:
        worker.terminate()
        worker.communicate(timeout=30)
