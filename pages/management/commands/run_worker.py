"""`manage.py run_worker`: django-tasks-db's `db_worker` plus housekeeping, and a worker that
outlives database outages.

Housekeeping (pages.schedule) runs in a background thread every SYNC_REAPER_INTERVAL_SECONDS:
the worker's heartbeat is written (the Page screen says when a worker was last seen, and that
none runs when a queued sync waits for nothing), runs whose process died (SIGKILL, a lost
machine) are reaped and resumed, and scheduled syncs that are due are queued. A lost
database connection (a restart, a failover, "too many clients") no longer ends the worker:
it closes its connections, waits (1 s, doubling up to 30 s) and goes on. A second loop, the
webhook lane, processes webhook deliveries (the "webhooks" queue) every WEBHOOK_POLL_SECONDS,
so a delivery never waits for the sync this worker is running; a third, the media lane,
downloads attachments (the "media" queue, media/tasks.py) every second. Autoreload is off
(it would kill syncs mid-run). Give each worker a distinct --worker-id in production, and
run it under a supervisor (systemd, the Procfile's process manager) so that a crash of
another kind restarts it.
"""

import logging
import threading
import time

from django.conf import settings
from django.core.management.base import CommandError
from django.db import InterfaceError, OperationalError, connections
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker

from media.tasks import QUEUE as MEDIA_QUEUE
from pages.schedule import housekeeping_forever, worker_stopped
from webhooks.tasks import QUEUE as WEBHOOK_QUEUE

logger = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0
# After this long without an outage, the next one starts again from the first delay.
HEALTHY_AFTER_SECONDS = 60.0
DATABASE_OUTAGES = (OperationalError, InterfaceError)
# How long a stopping worker waits for its housekeeping thread to record the stop.
STOP_GRACE_SECONDS = 5.0
# How often a worker's media lane looks for attachment downloads (seconds).
MEDIA_POLL_SECONDS = 1.0


class ResilientWorker(Worker):
    """db_worker's loop, restarted after a database error instead of exiting."""

    def run(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while True:
            started = time.monotonic()
            try:
                return super().run()
            except DATABASE_OUTAGES as exc:
                if not self.running:
                    raise
                if time.monotonic() - started > HEALTHY_AFTER_SECONDS:
                    delay = FIRST_RETRY_SECONDS
                logger.warning(
                    "Database unavailable (%s); the worker retries in %.0f s",
                    type(exc).__name__,
                    delay,
                )
                connections.close_all()
                time.sleep(delay)  # a signal still stops the worker here (db_worker's handler)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
                self.startup_delay = False


class Command(DbWorkerCommand):
    help = "Run a background worker for syncs (db_worker plus reaping and scheduling)."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(reload=False)
        parser.add_argument(
            "--no-webhook-lane",
            dest="webhook_lane",
            action="store_false",
            help="Process webhook deliveries in the main loop, between syncs, rather than in a "
            "lane of their own (also the case with --batch).",
        )

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        reload: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options,
    ) -> None:
        if reload:
            raise CommandError("run_worker does not autoreload: a reload would kill syncs.")
        self.configure_logging(verbosity)
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        use_lane = options.get("webhook_lane", True) and not batch
        if not use_lane and "*" not in queue_names and WEBHOOK_QUEUE not in queue_names:
            queue_names += [WEBHOOK_QUEUE, MEDIA_QUEUE]  # without a lane, they wait their turn
        worker = ResilientWorker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded,
        )
        stop = threading.Event()
        thread = threading.Thread(
            target=housekeeping_forever, args=(stop, worker_id), daemon=True, name="housekeeping"
        )
        thread.start()
        lanes = []
        if use_lane and WEBHOOK_QUEUE not in queue_names:
            # Deliveries and attachment downloads (media/tasks.py) each in a lane of their own:
            # neither waits for a sync, and a slow download never holds a delivery back.
            for queue, poll in (
                (WEBHOOK_QUEUE, settings.WEBHOOK_POLL_SECONDS),
                (MEDIA_QUEUE, MEDIA_POLL_SECONDS),
            ):
                lane = ResilientWorker(
                    queue_names=[queue],
                    interval=poll,
                    batch=False,
                    backend_name=backend_name,
                    startup_delay=False,
                    max_tasks=None,
                    worker_id=f"{worker_id}-{queue}",
                    excluded_queue_names=[],
                )
                # A daemon: a delivery cut short by the process ending rolls back, stays
                # stored and is processed again by housekeeping (a download: tried again).
                threading.Thread(target=lane.run, daemon=True, name=f"{queue}-lane").start()
                lanes.append(lane)
        try:
            worker.configure_signals()
            worker.run()
        finally:
            for lane in lanes:
                lane.running = False
            stop.set()
            # Let it record that this worker stopped (a daemon thread dies with the process).
            thread.join(timeout=STOP_GRACE_SECONDS)
            if thread.is_alive() and worker_id:
                # Still inside a long housekeeping pass: record the stop from here, or the
                # Page screens would say a worker runs until its beats go stale.
                try:
                    worker_stopped(worker_id)
                except DATABASE_OUTAGES:
                    logger.warning("Could not record that worker %s stopped", worker_id)
