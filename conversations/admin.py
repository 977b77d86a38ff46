from django.contrib import admin

from conversations.models import Contact, Conversation, InteractionEvent, Message
from privacy.admin import delete_all_data_of_person


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("display_name", "psid", "page", "updated_at")
    list_filter = ("page",)
    search_fields = ("name", "psid")
    list_select_related = ("page",)
    # Erasure of a person's conversations, messages and events (privacy/erasure.py), from
    # the list and from the contact's page; Django's own delete keeps their conversations.
    actions = [delete_all_data_of_person]
    change_form_template = "privacy/admin/contact_change_form.html"


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = readonly_fields = ("created_time", "direction", "sender_name", "text")
    ordering = ("-created_time", "-id")
    max_num = 0
    show_change_link = True


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("facebook_id", "contact", "page", "folder", "updated_time", "message_count")
    list_filter = ("page", "folder", "can_reply")
    search_fields = ("facebook_id", "contact__name", "contact__psid", "snippet")
    list_select_related = ("contact", "page")
    raw_id_fields = ("contact",)
    date_hierarchy = "updated_time"
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("facebook_id", "conversation", "direction", "sender_name", "created_time")
    list_filter = ("direction", "page")
    search_fields = ("facebook_id", "text", "sender_name")
    list_select_related = ("conversation__contact",)
    raw_id_fields = ("conversation",)
    date_hierarchy = "created_time"


@admin.register(InteractionEvent)
class InteractionEventAdmin(admin.ModelAdmin):
    list_display = ("kind", "source_id", "contact", "page", "occurred_at")
    list_filter = ("kind", "page")
    search_fields = ("source_id", "contact__name")
    list_select_related = ("contact", "page")
    raw_id_fields = ("conversation", "contact")
    date_hierarchy = "occurred_at"
