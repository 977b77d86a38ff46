"""Meta's webhook deliveries, kept raw.

A delivery is stored exactly as received (the body's bytes) before anything else happens, so
nothing is lost when processing fails; its sha256 is unique, so Meta's exact retries are stored
once. Raw bodies hold personal messages: `DeliveryMention` lists, per delivery, the people
(page-scoped ids) it mentions, so a person's deliveries can be found and deleted
(privacy.erasure) without reading every body.
"""

from django.db import models
from django.utils import timezone


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        # Some of its messages name a person with no known conversation: a sync was asked to
        # learn it, and housekeeping processes the delivery again once no sync of the Page
        # is active (webhooks.processing).
        WAITING = "waiting", "Waiting for a sync"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    body = models.BinaryField()
    sha256 = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    attempted_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Safe text only: what went wrong, never the body nor a secret.
    error = models.TextField(blank=True)
    events = models.PositiveIntegerField(default=0)
    messages_stored = models.PositiveIntegerField(default=0)
    # {kind: count} for event kinds we keep raw but do not handle (referral, optin, …).
    unknown_kinds = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return f"Delivery #{self.pk} ({self.get_status_display()})"


class DeliveryMention(models.Model):
    """A person (PSID, page-scoped) whom a delivery mentions, on a Page (Facebook id: a
    delivery may name a Page that is not connected here)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="mentions")
    page_facebook_id = models.CharField(max_length=64)
    psid = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "page_facebook_id", "psid"], name="unique_delivery_mention"
            )
        ]
        indexes = [models.Index(fields=["page_facebook_id", "psid"])]

    def __str__(self) -> str:
        return self.psid
