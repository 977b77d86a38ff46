import json
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from pages.models import FacebookPage, SyncRun
from pages.retention_views import retention_days_field
from pages.sync.checkpoint import Checkpoint, clear_checkpoints, pretty_json
from pages.sync.runs import Start, SyncAlreadyRunning
from pages.tasks import PageCannotSync, queue_sync

RUN_COLUMNS = (
    "status",
    "mode",
    "trigger",
    "current",
    "inserted",
    "updated",
    "skipped",
    "events",
    "duplicates_prevented",
)


class FacebookPageForm(forms.ModelForm):
    # The Page screen's bounds (1 to 36,500 days, or empty: kept forever).
    retention_days = retention_days_field()

    class Meta:
        model = FacebookPage
        fields = ("facebook_id", "name", "retention_days", "fetch_history")


class SyncRunInline(admin.TabularInline):
    model = SyncRun
    extra = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = (*RUN_COLUMNS, "started_at", "finished_at")
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FacebookPage)
class FacebookPageAdmin(admin.ModelAdmin):
    list_display = ("name", "facebook_id", "connection", "last_synced_at", "sync_status")
    list_filter = ("token_status",)
    search_fields = ("name", "facebook_id")
    # The encrypted token is not editable and never listed here: it is set by connecting.
    readonly_fields = (
        "connection",
        "token_error",
        "full_sync_completed_at",
        "last_synced_at",
        "checkpoint",
        "marks",
        "findings",
        "history_progress",
        "retention_applied_at",
    )
    fields = ("facebook_id", "name", "retention_days", "fetch_history", *readonly_fields)
    form = FacebookPageForm
    inlines = [SyncRunInline]
    actions = [
        "sync_now",
        "full_sync",
        "resume_sync",
        "verify",
        "verify_and_repair",
        "fetch_full_history",
        "clear_checkpoint",
    ]

    def has_add_permission(self, request) -> bool:
        # A Page is added by connecting it (its token checked with Facebook), never bare.
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.encrypted_access_token:
            # Its token belongs to this Facebook id: another id would sync someone else.
            return ("facebook_id", *self.readonly_fields)
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and _syncing(FacebookPage.objects.filter(pk=obj.pk)).exists():
            # Cancel its sync first: deleting under a running worker deadlocks. (The bulk
            # delete asks this per page too, and refuses the whole selection.)
            return False
        return super().has_delete_permission(request, obj)

    def _start(self, request, queryset, *, mode: Start) -> None:
        started, busy, skipped = 0, 0, 0
        for page in queryset:
            saved = Checkpoint.of(page)
            if mode == Start.RESUME and not (saved and saved.unfinished):
                skipped += 1
                continue
            try:
                queue_sync(page, trigger=SyncRun.Trigger.ADMIN, mode=mode)
            except PageCannotSync:
                skipped += 1
            except SyncAlreadyRunning:
                busy += 1
            else:
                started += 1
        self.message_user(request, f"Queued {started} sync(s).", messages.SUCCESS)
        if busy:
            self.message_user(request, f"{busy} page(s) already syncing.", messages.WARNING)
        if skipped:
            self.message_user(
                request,
                f"{skipped} page(s) skipped: nothing to resume, or not connected.",
                messages.WARNING,
            )

    @admin.action(description="Fetch full history")
    def fetch_full_history(self, request, queryset) -> None:
        self._start(request, queryset, mode=Start.HISTORY)

    @admin.display(description="History backfill")
    def history_progress(self, page: FacebookPage) -> str:
        return _pretty(page.history_checkpoint or {})

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset) -> None:
        self._start(request, queryset, mode=Start.NEXT)

    @admin.action(description="Full re-sync")
    def full_sync(self, request, queryset) -> None:
        self._start(request, queryset, mode=Start.FULL)

    @admin.action(description="Resume")
    def resume_sync(self, request, queryset) -> None:
        self._start(request, queryset, mode=Start.RESUME)

    @admin.action(description="Verify against Facebook")
    def verify(self, request, queryset) -> None:
        """Queue a verify run (pages.sync.verify): it reports what is missing, storing nothing."""
        self._start(request, queryset, mode=Start.VERIFY)

    @admin.action(description="Verify and repair")
    def verify_and_repair(self, request, queryset) -> None:
        self._start(request, queryset, mode=Start.REPAIR)

    @admin.action(description="Clear checkpoint")
    def clear_checkpoint(self, request, queryset) -> None:
        idle = queryset.exclude(pk__in=_main_run_pages())
        cleared = clear_checkpoints(idle)
        self.message_user(request, f"Cleared the checkpoint of {cleared} page(s).")
        if cleared < queryset.count():
            self.message_user(
                request, "Pages with an active sync were left alone.", messages.WARNING
            )

    @admin.display(description="Connection", ordering="token_status")
    def connection(self, page: FacebookPage) -> str:
        """A Page without a token is "Not connected" (whatever token_status says), with the
        way to connect it."""
        if page.is_connected:
            return page.connection_label
        connect = reverse("pages:connect") + "?" + urlencode({"page_id": page.facebook_id})
        return format_html('Not connected: <a href="{}">connect it</a>', connect)

    @admin.display(description="Sync checkpoint")
    def checkpoint(self, page: FacebookPage) -> str:
        return _preformatted(pretty_json(page) or "{}")

    @admin.display(description="What Graph does not give for this Page")
    def findings(self, page: FacebookPage) -> str:
        return _pretty(page.graph_findings)

    @admin.display(description="High-water marks")
    def marks(self, page: FacebookPage) -> str:
        return _pretty(page.high_water_marks)

    @admin.display(description="Checkpoint")
    def sync_status(self, page: FacebookPage) -> str:
        saved = Checkpoint.of(page)
        if saved is None:
            return "—"
        return f"{saved.status} at #{saved.current}"


def _main_run_pages():
    """Pages with an active main run (a history backfill does not count)."""
    active = SyncRun.objects.filter(status__in=SyncRun.ACTIVE_STATUSES)
    return active.exclude(mode__in=SyncRun.BACKGROUND_MODES).values("page")


def _syncing(pages):
    """Pages with any active run (a history backfill too)."""
    return pages.filter(sync_runs__status__in=SyncRun.ACTIVE_STATUSES).distinct()


def _pretty(value) -> str:
    return _preformatted(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def _preformatted(text: str) -> str:
    return format_html("<pre class='pre-wrap'>{}</pre>", text)


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("id", "page", *RUN_COLUMNS, "created_at", "duration")
    list_filter = ("status", "mode", "trigger", "page")
    search_fields = ("page__name", "page__facebook_id", "error")
    date_hierarchy = "created_at"
    list_select_related = ("page",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
