from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from pages import crypto


class FacebookPage(models.Model):
    class TokenStatus(models.TextChoices):
        OK = "ok", "Connected"
        NEEDS_RECONNECT = "needs_reconnect", "Needs reconnect"

    # Facebook ids exceed 2**53: always text.
    facebook_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255, blank=True)
    # Fernet ciphertext; read and write through `access_token`. Never shown anywhere.
    encrypted_access_token = models.TextField(blank=True, editable=False)
    token_status = models.CharField(
        max_length=20, choices=TokenStatus.choices, default=TokenStatus.OK
    )
    token_error = models.TextField(blank=True)
    # Resume state of the latest run, written in the same transaction as each conversation.
    sync_checkpoint = models.JSONField(default=dict, blank=True)
    # Per folder, the newest `updated_time` seen when the last completed run walked it
    # (ISO strings); an incremental sync stops below it (minus an overlap).
    high_water_marks = models.JSONField(default=dict, blank=True)
    full_sync_completed_at = models.DateTimeField(null=True, blank=True)
    # What syncs (and the probe) learned about how Graph treats this Page: folders it refuses
    # or ignores, fields it no longer has. Written by pages.sync.findings only.
    graph_findings = models.JSONField(default=dict, blank=True)
    # Epoch seconds of the next free Graph call slot, shared by every worker (without Redis).
    graph_next_call_at = models.FloatField(null=True, blank=True, editable=False)
    # When the schedule next syncs this page (None: as soon as scheduling is on).
    next_scheduled_sync_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # When a token was last stored (connect or reconnect): a run that failed before it failed
    # with the old token, and its error no longer says anything about the Page.
    connected_at = models.DateTimeField(null=True, blank=True)
    # The app-scoped id of the Facebook user whose Login gave the token (blank when it was
    # pasted): Meta's deauthorize and data-deletion callbacks name that user.
    facebook_user_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Webhooks: the fields Graph last said this app is subscribed to for the Page
    # (`GET /{page}/subscribed_apps`), when that was checked, and the last delivery.
    webhook_fields = models.JSONField(default=list, blank=True)
    webhook_checked_at = models.DateTimeField(null=True, blank=True)
    # Since when Graph has said the Page's messages are subscribed (None: they are not).
    webhook_subscribed_at = models.DateTimeField(null=True, blank=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    # Messages a sync stored that were sent while the Page was subscribed, and that no webhook
    # had delivered by then: the gaps the syncs repaired (pages.sync.recorder counts them).
    webhook_gap_messages = models.PositiveIntegerField(default=0)
    # History backfill (pages.sync.history): after each completed sync, fetch every
    # conversation's older messages down to its first one. Its progress, written by that
    # module only (fenced like `sync_checkpoint`); the per-thread position is on each
    # Conversation (`history_after`), so a kill loses at most one page of one thread.
    fetch_history = models.BooleanField(default=False, db_default=False)
    history_checkpoint = models.JSONField(default=dict, blank=True, db_default={})
    # Retention (pages.retention): messages, events and media older than this many days are
    # deleted by housekeeping, in batches. None: kept forever.
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    retention_applied_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name or self.facebook_id

    @property
    def access_token(self) -> str:
        if not self.encrypted_access_token:
            return ""
        return crypto.decrypt(self.encrypted_access_token)

    @access_token.setter
    def access_token(self, value: str) -> None:
        self.encrypted_access_token = crypto.encrypt(value) if value else ""

    @property
    def is_connected(self) -> bool:
        """It has a token. A Page without one (made in the admin, or by hand) cannot sync
        until someone connects it, whatever its token_status says."""
        return bool(self.encrypted_access_token)

    @property
    def needs_reconnect(self) -> bool:
        return self.is_connected and self.token_status == self.TokenStatus.NEEDS_RECONNECT

    def take_turn(self, field: str, new_value) -> bool:
        """Move the time in `field` from the value this object read to `new_value`, unless
        another process moved it first: of several workers, exactly one takes a due Page."""
        previous = getattr(self, field)
        unchanged = {f"{field}__isnull": True} if previous is None else {field: previous}
        taken = FacebookPage.objects.filter(pk=self.pk, **unchanged).update(**{field: new_value})
        if taken:
            setattr(self, field, new_value)
        return bool(taken)

    def record_webhook_fields(self, fields: list[str], *, checked_at=None) -> None:
        """Store what Graph read back of the Page's subscription (and when it was checked);
        `webhook_subscribed_at` starts when `messages` appears and ends when it goes."""
        subscribed = "messages" in fields
        changes = {
            "webhook_fields": fields,
            "webhook_subscribed_at": (self.webhook_subscribed_at or timezone.now())
            if subscribed
            else None,
        }
        if checked_at is not None:
            changes["webhook_checked_at"] = checked_at
        FacebookPage.objects.filter(pk=self.pk).update(**changes)
        for name, value in changes.items():
            setattr(self, name, value)

    @property
    def connection_label(self) -> str:
        """ "Connected", "Needs reconnect" or "Not connected", for every screen."""
        return self.get_token_status_display() if self.is_connected else "Not connected"


class SyncRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused for rate limit"
        CANCELLING = "cancelling", "Cancelling"
        COMPLETE = "complete", "Complete"
        INTERRUPTED = "interrupted", "Interrupted"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING, Status.PAUSED, Status.CANCELLING)
    # A process is working on the run: only then may it write the checkpoint and counters.
    WORKING_STATUSES = (Status.RUNNING, Status.CANCELLING)

    class Mode(models.TextChoices):
        FULL = "full", "Full"
        INCREMENTAL = "incremental", "Incremental"
        # Compare what is stored with what Graph says (message_count, the census); REPAIR
        # also fetches what is missing (pages.sync.verify).
        VERIFY = "verify", "Verify"
        REPAIR = "repair", "Verify and repair"
        # The history backfill (pages.sync.history): runs beside the others, yielding the
        # Page's call budget to them.
        HISTORY = "history", "History"

    # Runs of these modes may run while a main run (any other mode) works on the Page.
    BACKGROUND_MODES = (Mode.HISTORY,)

    class Trigger(models.TextChoices):
        WEB = "web", "Web"
        COMMAND = "command", "Command line"
        SCHEDULE = "schedule", "Schedule"
        ADMIN = "admin", "Admin"
        # A webhook from a person with no known conversation: learn its id (webhooks carry
        # PSIDs, not thread ids).
        WEBHOOK = "webhook", "Webhook"
        # Connected with Facebook Login: the first sync offered in the Page picker.
        LOGIN = "login", "Facebook Login"

    page = models.ForeignKey(FacebookPage, on_delete=models.CASCADE, related_name="sync_runs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.INCREMENTAL)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.WEB)
    # True when this run continues the page's saved checkpoint.
    resumed = models.BooleanField(default=False)
    current = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    inserted = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)
    current_name = models.CharField(max_length=255, blank=True)
    graph_calls = models.PositiveIntegerField(default=0)
    # Rows this run read from Graph again and did not store twice (messages it already held).
    duplicates_prevented = models.PositiveIntegerField(default=0, db_default=0)
    # What a verify run found and repaired (pages.sync.verify); empty for other modes.
    report = models.JSONField(default=dict, blank=True, db_default={})
    # Conversations recorded and skipped because of bad data: [{"id":…, "error":…}, …].
    problems = models.JSONField(default=list, blank=True)
    # How many conversations were problems (only the first ones are kept in `problems`).
    problem_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    resume_at = models.DateTimeField(null=True, blank=True)
    # Who runs it: lets a new run tell at once that a crashed process on this host is gone.
    worker_host = models.CharField(max_length=255, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Set when the reaper ended the run because its process died or stopped beating.
    reaped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Two clicks, two workers or a click plus a schedule never sync one page at once.
            models.UniqueConstraint(
                fields=["page"],
                condition=Q(status__in=["queued", "running", "paused", "cancelling"])
                & ~Q(mode="history"),
                name="one_active_sync_run_per_page",
            ),
            # The history backfill runs beside the main run, never twice at once.
            models.UniqueConstraint(
                fields=["page"],
                condition=Q(status__in=["queued", "running", "paused", "cancelling"])
                & Q(mode="history"),
                name="one_active_history_run_per_page",
            ),
        ]

    def __str__(self) -> str:
        return f"Sync #{self.pk} of {self.page} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_background(self) -> bool:
        return self.mode in self.BACKGROUND_MODES

    @property
    def duration(self):
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class WorkerHeartbeat(models.Model):
    """A `run_worker` process, as last seen by its housekeeping thread: the Page screen tells
    from it whether a queued sync waits for a busy worker or for none at all."""

    worker_id = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)
    # Set when the worker stops cleanly: it is gone at once, not after its beats go stale.
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"Worker {self.worker_id} ({self.host}, pid {self.pid})"

    @staticmethod
    def stale_after() -> timedelta:
        """A worker beats every SYNC_REAPER_INTERVAL_SECONDS; three missed beats (and at least
        30 s) and it is taken as gone (killed, or its machine lost)."""
        return timedelta(seconds=max(30.0, 3 * settings.SYNC_REAPER_INTERVAL_SECONDS))

    def is_alive(self, now) -> bool:
        return self.stopped_at is None and self.seen_at >= now - self.stale_after()
