"""What a Page's inbox holds. Every natural key is a unique constraint, so writes are upserts
and replaying a conversation any number of times yields the same rows."""

from datetime import UTC, datetime

from django.db import models
from django.db.models import Q

# Every time we store from Graph lies in [GRAPH_TIME_START, GRAPH_TIME_END): conversations.parsing
# rejects the rest, and the database refuses it too, because PostgreSQL accepts a time it then
# cannot give back to Python (year 10000 in UTC): every list showing that row would fail.
GRAPH_TIME_START = datetime(1970, 1, 1, tzinfo=UTC)
GRAPH_TIME_END = datetime(2101, 1, 1, tzinfo=UTC)


def graph_time_in_range(field: str, *, nullable: bool = False) -> models.CheckConstraint:
    """A CHECK that `field` holds a time in the Graph time range (or NULL when `nullable`)."""
    in_range = Q(**{f"{field}__gte": GRAPH_TIME_START, f"{field}__lt": GRAPH_TIME_END})
    return models.CheckConstraint(
        condition=in_range | Q(**{f"{field}__isnull": True}) if nullable else in_range,
        name=f"%(app_label)s_%(class)s_{field}_in_range",
    )


class Contact(models.Model):
    """A person who talks to a Page. PSIDs are page-scoped, so the key is (page, psid)."""

    page = models.ForeignKey("pages.FacebookPage", on_delete=models.CASCADE, related_name="+")
    psid = models.CharField(max_length=64)
    # Deleted or deactivated users come without a name (graph-api.md §4.3).
    name = models.CharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["page", "psid"], name="unique_contact_per_page")
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or "Unknown user"


class Conversation(models.Model):
    class Folder(models.TextChoices):
        INBOX = "inbox", "Inbox"
        OTHER = "other", "Other (requests)"
        PAGE_DONE = "page_done", "Done"
        PENDING = "pending", "Pending"
        SPAM = "spam", "Spam"

    class HistoryEnd(models.TextChoices):
        FIRST_MESSAGE = "first_message", "Reached the first message"
        GRAPH_STOPPED = "graph_stopped", "Facebook returned no older messages"
        # The Page keeps messages for RETENTION_DAYS: older ones are not fetched.
        RETENTION = "retention", "Older messages are past the Page's retention"

    page = models.ForeignKey(
        "pages.FacebookPage", on_delete=models.CASCADE, related_name="conversations"
    )
    facebook_id = models.CharField(max_length=128)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    folder = models.CharField(max_length=20, choices=Folder.choices, default=Folder.INBOX)
    updated_time = models.DateTimeField(db_index=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    unread_count = models.PositiveIntegerField(default=0)
    snippet = models.TextField(blank=True)
    can_reply = models.BooleanField(default=True)
    # The sync pass that last wrote this row: lets a resumed or re-walking pass recognise
    # conversations it already counted without keeping a list of ids in the checkpoint.
    sync_pass = models.CharField(max_length=32, blank=True)
    # Webhooks (webhooks.processing) move `updated_time` and `snippet` forward so the lists are
    # live; this keeps the `updated_time` the last sync stored, which the sync compares with
    # Graph's to decide what to fetch (conversations.ingest.load_known). NULL: `updated_time`
    # is the sync's own. Each sync write clears it.
    synced_updated_time = models.DateTimeField(null=True, blank=True, editable=False)
    # The person has read / received every message the Page sent up to these times
    # (message_reads and message_deliveries webhooks; Graph reads have no such field).
    read_watermark = models.DateTimeField(null=True, blank=True)
    delivered_watermark = models.DateTimeField(null=True, blank=True)
    # History backfill (pages.sync.history): where the next page of older messages starts
    # (Graph's `next` URL or cursor; blank: the top of the thread), whether the thread's
    # history is complete, and why it ended (HistoryEnd).
    history_after = models.TextField(blank=True, default="", db_default="")
    history_complete = models.BooleanField(default=False, db_default=False)
    history_end = models.CharField(
        max_length=20, choices=HistoryEnd.choices, blank=True, default="", db_default=""
    )
    created_at = models.DateTimeField(auto_now_add=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["page", "facebook_id"], name="unique_conversation_per_page"
            ),
            graph_time_in_range("updated_time"),
            graph_time_in_range("last_message_at", nullable=True),
            graph_time_in_range("read_watermark", nullable=True),
            graph_time_in_range("delivered_watermark", nullable=True),
        ]
        indexes = [
            models.Index(fields=["page", "-updated_time"]),
            models.Index(fields=["page", "history_complete", "-updated_time"]),
        ]

    def __str__(self) -> str:
        return f"{self.contact or 'Unknown user'} ({self.facebook_id})"


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", "Received"
        OUTBOUND = "out", "Sent"

    page = models.ForeignKey("pages.FacebookPage", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    # The Graph message id, equal to a webhook's `mid`: the idempotency key.
    facebook_id = models.CharField(max_length=255)
    sender_id = models.CharField(max_length=64)
    sender_name = models.CharField(max_length=255, null=True, blank=True)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    text = models.TextField(blank=True)
    # Normalised: [{"type": "image"|"video"|"audio"|"file"|"sticker"|"share"|"unknown", ...}]
    attachments = models.JSONField(default=list, blank=True)
    created_time = models.DateTimeField()
    # Reactions from message_reactions webhooks, the latest action per reacting id:
    # {psid: {"action": "react"|"unreact", "reaction": "love", "emoji": "❤", "at": epoch ms}}.
    reactions = models.JSONField(default=dict, db_default={}, blank=True)
    # Stored from a webhook and not yet read back by a sync. The sync does not stop at such a
    # row when it looks for new messages (older ones the webhooks missed may lie behind it),
    # and replaces it with Graph's version when it reads it (conversations.ingest).
    webhook_copy = models.BooleanField(default=False, db_default=False)

    class Meta:
        # Graph timestamps have one-second resolution: ties keep insertion order (id).
        ordering = ["created_time", "id"]
        constraints = [
            models.UniqueConstraint(fields=["page", "facebook_id"], name="unique_message_per_page"),
            graph_time_in_range("created_time"),
        ]
        indexes = [models.Index(fields=["conversation", "created_time"])]

    def __str__(self) -> str:
        return self.facebook_id


class InteractionEvent(models.Model):
    """Activity for analytics. Its natural key is (page, kind, source_id): the message id for
    message events and the conversation id for `conversation_started`."""

    class Kind(models.TextChoices):
        MESSAGE_RECEIVED = "message_received", "Message received"
        MESSAGE_SENT = "message_sent", "Message sent"
        CONVERSATION_STARTED = "conversation_started", "Conversation started"

    page = models.ForeignKey("pages.FacebookPage", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    source_id = models.CharField(max_length=255)
    occurred_at = models.DateTimeField()
    # Created by the history backfill (older messages fetched later): the activity screen
    # can leave them out, so a backfill day does not look like a busy day.
    backfill = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["page", "kind", "source_id"], name="unique_interaction_event"
            ),
            graph_time_in_range("occurred_at"),
        ]
        indexes = [models.Index(fields=["page", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"


class ErasedContact(models.Model):
    """A person whose data was deleted on request (privacy.erasure). Their conversations still
    exist on Facebook: syncs and webhooks store nothing of theirs again, until staff delete
    this row (Privacy › Erased people in the admin). Only the page-scoped id is kept."""

    page = models.ForeignKey("pages.FacebookPage", on_delete=models.CASCADE, related_name="+")
    psid = models.CharField(max_length=64)
    erased_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "erased person"
        verbose_name_plural = "erased people"
        constraints = [
            models.UniqueConstraint(fields=["page", "psid"], name="unique_erased_contact_per_page")
        ]

    def __str__(self) -> str:
        return f"Erased person {self.psid}"

    @classmethod
    def is_erased(cls, page_id: int, psid: str | None) -> bool:
        return bool(psid) and cls.objects.filter(page_id=page_id, psid=psid).exists()
