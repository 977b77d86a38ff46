"""`manage.py run_worker`: django-tasks-db's `db_worker` plus the run reaper.

The reaper runs at start and every SYNC_REAPER_INTERVAL_SECONDS in a background thread: runs
whose process died (SIGKILL, a lost machine) become `interrupted`, and their panel is
republished so Resume shows. Autoreload is off by default (it would kill tasks mid-run).
"""

import threading

from django.conf import settings
from django.db import close_old_connections
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from pages import progress
from pages.runs import reap_stale_runs


def reap_once() -> None:
    for run in reap_stale_runs():
        progress.publish(run.page_id, final=True)


def reap_forever(stop: threading.Event) -> None:
    while not stop.wait(settings.SYNC_REAPER_INTERVAL_SECONDS):
        try:
            reap_once()
        finally:
            close_old_connections()


class Command(DbWorkerCommand):
    help = "Run a background worker for syncs (db_worker plus the reaper of dead runs)."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(reload=False)

    def handle(self, *args, **options) -> None:
        reap_once()
        stop = threading.Event()
        threading.Thread(target=reap_forever, args=(stop,), daemon=True, name="reaper").start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
