"""What fbsync keeps about a deletion: that it happened and how much was deleted, never whom.

A request comes from Meta's data-deletion callback (a Facebook user asked Meta) or from staff in
the admin ("Delete all data of this person"). Its row holds counts only: no name, no Facebook
id, no hash of one (nothing here could tell whose data it was). Its confirmation code is the
only key to its public status page."""

import secrets

from django.db import models

CONFIRMATION_CODE_BYTES = 24


def new_confirmation_code() -> str:
    """32 url-safe characters from the OS's CSPRNG (192 bits): unguessable, and a slug."""
    return secrets.token_urlsafe(CONFIRMATION_CODE_BYTES)


class DeletionRequest(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        COMPLETED = "completed", "Completed"

    class Source(models.TextChoices):
        FACEBOOK = "facebook", "Facebook data-deletion callback"
        ADMIN = "admin", "Staff, in the admin"

    confirmation_code = models.CharField(
        max_length=64, unique=True, default=new_confirmation_code, editable=False
    )
    source = models.CharField(max_length=20, choices=Source.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    received_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # How much was deleted (numbers only).
    pages_disconnected = models.PositiveIntegerField(default=0)
    contacts = models.PositiveIntegerField(default=0)
    conversations = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)
    webhook_deliveries = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"Deletion request #{self.pk} ({self.get_status_display()})"
