"""Attachments kept: the files (one per distinct content, named by its sha256) and, per
message attachment, where its download stands.

A source URL (Facebook's CDN, signed and expiring) is kept here only to download from; it is
never rendered, logged or shown in the admin. `last_error` is written by our own code and
never quotes a URL."""

from django.db import models


class StoredFile(models.Model):
    """One distinct file in STORAGES["default"], stored once whatever the number of
    attachments that carry it."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    # The type the bytes were checked to be (media.sniff), the only one we ever serve.
    content_type = models.CharField(max_length=100)
    storage_name = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.sha256[:12]}… ({self.content_type}, {self.size} bytes)"


class MediaAttachment(models.Model):
    """Attachment number `index` of a message (its place in `Message.attachments`)."""

    class State(models.TextChoices):
        PENDING = "pending", "Downloading"
        STORED = "stored", "Stored"
        FAILED = "failed", "Failed"  # tried again later (next_try_at), until MEDIA_MAX_ATTEMPTS
        REFUSED = "refused", "Refused"  # too large, a type we do not keep, or lying about it

    message = models.ForeignKey(
        "conversations.Message", on_delete=models.CASCADE, related_name="media"
    )
    page = models.ForeignKey("pages.FacebookPage", on_delete=models.CASCADE, related_name="+")
    index = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16)  # image, sticker, video, audio, file
    name = models.CharField(max_length=255, blank=True)
    mime_type = models.CharField(max_length=100, blank=True)  # what the attachment claimed
    source_url = models.TextField(blank=True)  # server-side only
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    # When it may be tried (again): a claim moves it forward (a lease), a failure by the
    # backoff; None once stored, refused, or given up.
    next_try_at = models.DateTimeField(null=True, blank=True)
    file = models.ForeignKey(
        StoredFile, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "index"], name="one_media_per_attachment")
        ]
        indexes = [models.Index(fields=["state", "next_try_at"], name="media_due")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.index} of message {self.message_id}: {self.state}"


class MediaCursor(models.Model):
    """Per Page: the highest Message.id already looked at for attachments (the watermark),
    and whether a collect task is queued (so a sync's thousands of commits queue one)."""

    page = models.OneToOneField(
        "pages.FacebookPage", on_delete=models.CASCADE, related_name="media_cursor"
    )
    last_message_id = models.BigIntegerField(default=0)
    collect_queued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"media cursor of page {self.page_id} at message {self.last_message_id}"
