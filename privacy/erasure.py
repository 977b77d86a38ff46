"""Deleting everything stored about people (Contacts): their conversations, the messages and
interaction events in them, and the raw webhook deliveries that mention them. One function,
used by Meta's data-deletion callback and by the admin's "Delete all data of this person".

All of it happens in one transaction: a failure anywhere deletes nothing.

The conversations still exist on Facebook: so that a later sync or a new message does not
store them again, each erased person is remembered by their page-scoped id (ErasedContact,
which syncs and webhooks check). Deleting that row in the admin lets their data in again.
The person's data at Meta is Meta's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast

from conversations.models import (
    Contact,
    Conversation,
    ErasedContact,
    InteractionEvent,
    Message,
)
from webhooks.models import DeliveryMention, WebhookDelivery


@dataclass(frozen=True)
class ErasureCounts:
    """How many rows of each kind an erasure deleted (or, from `count_contact_data`, would
    delete). Numbers only: safe to store, show and log."""

    contacts: int = 0
    conversations: int = 0
    messages: int = 0
    events: int = 0
    webhook_deliveries: int = 0

    def as_fields(self) -> dict[str, int]:
        return asdict(self)

    @property
    def total(self) -> int:
        return sum(self.as_fields().values())


@dataclass(frozen=True)
class _Scope:
    """Everything stored about some contacts, as querysets."""

    contacts: QuerySet[Contact]
    conversations: QuerySet[Conversation]
    messages: QuerySet[Message]
    # The events of their conversations, and any other event naming them.
    events: QuerySet[InteractionEvent]
    # Raw deliveries that mention one of them (the Page's Facebook id and the PSID).
    webhook_deliveries: QuerySet[WebhookDelivery]

    @classmethod
    def of(cls, contacts: QuerySet[Contact]) -> _Scope:
        contact_ids = list(contacts.values_list("pk", flat=True))
        selected = Contact.objects.filter(pk__in=contact_ids)
        conversations = Conversation.objects.filter(contact_id__in=contact_ids)
        mentioned = Exists(
            selected.filter(psid=OuterRef("psid"), page__facebook_id=OuterRef("page_facebook_id"))
        )
        return cls(
            contacts=selected,
            conversations=conversations,
            messages=Message.objects.filter(conversation__in=conversations),
            events=InteractionEvent.objects.filter(
                Q(conversation__in=conversations) | Q(contact_id__in=contact_ids)
            ),
            webhook_deliveries=deliveries_mentioning(mentioned),
        )

    def counts(self) -> ErasureCounts:
        return ErasureCounts(
            contacts=self.contacts.count(),
            conversations=self.conversations.count(),
            messages=self.messages.count(),
            events=self.events.count(),
            webhook_deliveries=self.webhook_deliveries.count(),
        )


def deliveries_mentioning(condition: Q | Exists) -> QuerySet[WebhookDelivery]:
    """The raw webhook deliveries with a mention (DeliveryMention) matching `condition`. A
    delivery is deleted whole: its body is Meta's signed bytes, not something to edit."""
    mentions = DeliveryMention.objects.filter(condition).values("delivery_id")
    return WebhookDelivery.objects.filter(pk__in=mentions)


def count_contact_data(contacts: QuerySet[Contact]) -> ErasureCounts:
    """What `erase_contact_data` would delete now (for the admin's confirmation page)."""
    return _Scope.of(contacts).counts()


def erase_contact_data(contacts: QuerySet[Contact]) -> ErasureCounts:
    """Delete the contacts and everything stored about them, all or nothing."""
    with transaction.atomic():
        # Lock the contacts first: a sync storing a conversation of one of them waits for us
        # (or we for it) instead of attaching new rows to a contact being deleted.
        chosen = list(contacts.values_list("pk", flat=True))
        scope = _Scope.of(Contact.objects.filter(pk__in=chosen).select_for_update())
        counts = scope.counts()
        ErasedContact.objects.bulk_create(
            [
                ErasedContact(page_id=page_id, psid=psid)
                for page_id, psid in scope.contacts.values_list("page_id", "psid")
            ],
            ignore_conflicts=True,
        )
        for queryset in (scope.messages, scope.conversations, scope.contacts):
            _forget_admin_history(queryset)
        scope.webhook_deliveries.delete()
        scope.events.delete()
        # Conversation.contact is SET_NULL: the conversations go explicitly, their messages
        # with them (CASCADE).
        scope.conversations.delete()
        scope.contacts.delete()
    return counts


def _forget_admin_history(queryset: QuerySet) -> None:
    """The admin's history names the objects it changed (a contact's name is in its
    `object_repr`): those entries go with the objects."""
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(queryset.model),
        object_id__in=queryset.annotate(text_pk=Cast("pk", CharField())).values("text_pk"),
    ).delete()
