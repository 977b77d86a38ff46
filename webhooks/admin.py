"""Webhook deliveries in the admin, read-only: their status, counts and errors. The raw body
holds people's messages: only superusers see it, in a collapsed section."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from webhooks.models import WebhookDelivery

# The admin shows at most this much of a body (a delivery can hold 1,000 events).
SHOWN_BODY_CHARS = 20_000


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("pk", "received_at", "status", "events", "messages_stored", "attempts")
    list_filter = ("status",)
    date_hierarchy = "received_at"
    ordering = ("-received_at", "-id")
    summary = (
        "status",
        "received_at",
        "attempted_at",
        "processed_at",
        "attempts",
        "events",
        "messages_stored",
        "unknown_kinds",
        "error",
        "sha256",
        "mention_count",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body")

    def get_fields(self, request, obj=None):
        return self.summary

    def get_readonly_fields(self, request, obj=None):
        return (*self.summary, "raw_body")

    def get_fieldsets(self, request, obj=None):
        fieldsets = [(None, {"fields": self.summary})]
        if request.user.is_superuser:
            fieldsets.append(("Raw body", {"fields": ("raw_body",), "classes": ("collapse",)}))
        return fieldsets

    @admin.display(description="People mentioned")
    def mention_count(self, obj: WebhookDelivery) -> int:
        return obj.mentions.count()

    @admin.display(description="Body as received")
    def raw_body(self, obj: WebhookDelivery) -> str:
        text = bytes(obj.body).decode("utf-8", "replace")
        if len(text) > SHOWN_BODY_CHARS:
            text = text[:SHOWN_BODY_CHARS] + f"… ({len(text) - SHOWN_BODY_CHARS} more characters)"
        return format_html('<pre class="webhook-body">{}</pre>', text)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
