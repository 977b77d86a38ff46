"""Which messages of one conversation a sync stores: for a new conversation its newest
SYNC_MESSAGES_PER_CONVERSATION, for a known one everything since the last sync (paging long
threads until a known message). The list says how many messages it read again that were
already stored (`NewMessages.seen_again`: the run's "duplicates prevented")."""

from __future__ import annotations

from collections.abc import Callable

from conversations import ingest, parsing
from conversations.ingest import KnownConversation
from conversations.parsing import ConversationData, MessageData
from pages.models import FacebookPage
from pages.sync.listing import ConversationLists


class NewMessages(list[MessageData]):
    """The messages to store, newest first, and how many messages the sync read from Graph
    again and left alone because it already held them (ingest counts them as duplicates
    prevented)."""

    seen_again: int = 0


def new_messages(
    conversation: ConversationData,
    stored: KnownConversation | None,
    lists: ConversationLists,
    page: FacebookPage,
    *,
    check_stop: Callable[[], None],
) -> NewMessages:
    """The messages we do not hold yet, newest first."""
    if stored is None:
        return NewMessages(newest_messages(conversation, lists, page, check_stop=check_stop))
    batch = conversation.messages
    position = conversation.older_messages
    new = NewMessages()
    while True:
        known_ids = ingest.known_message_ids(page.pk, [m.facebook_id for m in batch])
        new.seen_again += len(known_ids)
        for message in batch:  # newest first
            if message.facebook_id in known_ids or message.created_time < stored.updated_time:
                return new
            new.append(message)
        if not position:
            return new
        check_stop()
        response = lists.fetch_messages(conversation.facebook_id, position)
        used = position
        batch, position = parsing.parse_messages_page(response, page.facebook_id)
        if position == used:  # a thread whose `next` does not move on ends here
            position = None


def newest_messages(
    conversation: ConversationData,
    lists: ConversationLists,
    page: FacebookPage,
    *,
    check_stop: Callable[[], None],
) -> list[MessageData]:
    """A new conversation's newest messages: nested in the list, or, when Graph made the run
    ask for fewer per conversation (pages.sync.sizes), paged for."""
    wanted = lists.sizes.max_messages
    messages, position = list(conversation.messages), conversation.older_messages
    while len(messages) < wanted and position:
        check_stop()
        response = lists.fetch_messages(
            conversation.facebook_id, position, limit=wanted - len(messages)
        )
        used = position
        batch, position = parsing.parse_messages_page(response, page.facebook_id)
        messages.extend(batch)
        if position == used:
            break
    return messages[:wanted]
