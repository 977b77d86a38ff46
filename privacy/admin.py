"""The admin's side of privacy: the record of deletions (read-only), and the Contact action
"Delete all data of this person" (registered on the Contact admin in conversations/admin.py),
which shows what will be deleted, in counts, before it deletes anything."""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from conversations.models import Contact, ErasedContact
from privacy.erasure import count_contact_data, erase_contact_data
from privacy.models import DeletionRequest

logger = logging.getLogger(__name__)

ERASE_ACTION = "delete_all_data_of_person"


@admin.register(ErasedContact)
class ErasedContactAdmin(admin.ModelAdmin):
    """People whose data was deleted: syncs and webhooks skip them. Deleting an entry lets
    their data in again with the next sync; entries are made only by an erasure."""

    list_display = ["psid", "page", "erased_at"]
    list_filter = ["page"]
    search_fields = ["psid"]
    readonly_fields = ["page", "psid", "erased_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DeletionRequest)
class DeletionRequestAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "source",
        "status",
        "received_at",
        "completed_at",
        "pages_disconnected",
        "contacts",
        "conversations",
        "messages",
        "events",
        "webhook_deliveries",
    )
    list_filter = ("source", "status")
    date_hierarchy = "received_at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.action(description="Delete all data of this person", permissions=["delete"])
def delete_all_data_of_person(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Contact]
) -> TemplateResponse | None:
    """First a confirmation page with the counts; once confirmed, the erasure (one
    transaction) and its record, then back to the list."""
    if request.POST.get("confirmed") != "yes":
        return TemplateResponse(
            request,
            "privacy/admin/erase_contacts.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": "Delete all data of this person?",
                "opts": modeladmin.model._meta,
                "contacts": queryset.select_related("page"),
                "counts": count_contact_data(queryset),
                "action_name": ERASE_ACTION,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )
    try:
        with transaction.atomic():
            counts = erase_contact_data(queryset)
            deletion = DeletionRequest.objects.create(
                source=DeletionRequest.Source.ADMIN,
                status=DeletionRequest.Status.COMPLETED,
                completed_at=timezone.now(),
                **counts.as_fields(),
            )
    except DatabaseError as exc:
        # The error's kind only: a database's message can quote the values (ids).
        logger.error("Admin erasure failed (%s); nothing was deleted", type(exc).__name__)
        modeladmin.message_user(
            request, "The deletion failed; nothing was deleted. Try again.", messages.ERROR
        )
        return None
    logger.info("Admin erasure: deletion request #%s (%d rows)", deletion.pk, counts.total)
    record = reverse("admin:privacy_deletionrequest_change", args=[deletion.pk])
    modeladmin.message_user(
        request,
        format_html(
            "Deleted {} contact(s) with {} conversation(s), {} message(s), {} event(s) and "
            '{} webhook deliveries. <a href="{}">Deletion record #{}</a>.',
            counts.contacts,
            counts.conversations,
            counts.messages,
            counts.events,
            counts.webhook_deliveries,
            record,
            deletion.pk,
        ),
        messages.SUCCESS,
    )
    return None
