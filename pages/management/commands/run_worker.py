"""`manage.py run_worker`: django-tasks-db's `db_worker` plus housekeeping.

Housekeeping (pages.schedule) runs at start and every SYNC_REAPER_INTERVAL_SECONDS in a
background thread: runs whose process died (SIGKILL, a lost machine) are reaped and resumed,
and scheduled syncs that are due are queued. Autoreload is off by default (it would kill
tasks mid-run). Give each worker a distinct --worker-id in production.
"""

import threading

from django.db import close_old_connections
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from pages.schedule import housekeeping, housekeeping_forever


class Command(DbWorkerCommand):
    help = "Run a background worker for syncs (db_worker plus reaping and scheduling)."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(reload=False)

    def handle(self, *args, **options) -> None:
        housekeeping()
        close_old_connections()
        stop = threading.Event()
        thread = threading.Thread(
            target=housekeeping_forever, args=(stop,), daemon=True, name="housekeeping"
        )
        thread.start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
