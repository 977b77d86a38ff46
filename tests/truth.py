"""What a correct sync of a sandbox page stores, compared with what the database holds."""

from conversations.models import Conversation, InteractionEvent, Message
from tests.helpers import stored_state

NEWEST = 25


def truth_of(server, page):
    return server.sandbox.truth(page.facebook_id)


def expected_counts(truth) -> dict:
    conversations = truth["conversations"]
    messages = sum(min(NEWEST, len(c["message_ids"])) for c in conversations)
    return {"conversations": len(conversations), "events": messages + len(conversations)}


def assert_matches_truth(page, truth, *, newest=NEWEST, more=None):
    """Every conversation of every folder once, with its newest messages (and `more[id]`
    messages beyond them, that arrived after it was first stored) and their events."""
    more = more or {}
    state = stored_state(page)
    assert {cid: folder for cid, (folder, _, _) in state["conversations"].items()} == {
        c["id"]: c["folder"] for c in truth["conversations"]
    }
    for conversation in truth["conversations"]:
        expected = conversation["message_ids"][: newest + more.get(conversation["id"], 0)]
        assert state["messages"].get(conversation["id"], []) == expected
    # Each message's event kind, read in one query (a query per message scanned the table
    # once per message on PostgreSQL: no index leads with source_id). A missing event is a
    # KeyError; a second one shows as a difference in the comparison below.
    kinds = dict(
        InteractionEvent.objects.filter(page=page)
        .exclude(kind=InteractionEvent.Kind.CONVERSATION_STARTED)
        .values_list("source_id", "kind")
    )
    expected_events = sorted(
        [("conversation_started", c["id"]) for c in truth["conversations"]]
        + [
            (kinds[m], m)
            for c in truth["conversations"]
            for m in c["message_ids"][: newest + more.get(c["id"], 0)]
        ]
    )
    assert state["events"] == expected_events


def assert_matches_visible_truth(page, truth, *, newest=NEWEST, more=None):
    """`assert_matches_truth` for a truth taken with the real Graph's switches on: every
    conversation Graph lists is stored once, in its folder, and nothing is filed under a
    folder Graph refuses or ignores (`truth["hidden_folders"]`)."""
    more = more or {}
    assert_matches_truth(page, truth, newest=newest, more=more)
    conversations = Conversation.objects.filter(page=page)
    assert conversations.count() == len(truth["conversations"])
    hidden = list(truth.get("hidden_folders") or {})
    assert not conversations.filter(folder__in=hidden).exists()
    assert Message.objects.filter(page=page).count() == sum(
        min(len(c["message_ids"]), newest + more.get(c["id"], 0)) for c in truth["conversations"]
    )
