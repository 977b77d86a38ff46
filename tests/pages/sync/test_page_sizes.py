"""How much one list call asks for adapts to what Graph accepts (the sandbox's response-weight
budget answers code 1 above it): less when Graph refuses, more when pages are light, and a
resume starts from what the run learned."""

import pytest

from pages.models import SyncRun
from pages.sync.checkpoint import Checkpoint
from pages.sync.sizes import GROW_AFTER, PageSizes, TooMuchData
from tests.helpers import connect, point_settings_at, sync, synced_page_with_new_messages
from tests.truth import assert_matches_truth, truth_of

pytestmark = pytest.mark.django_db


def list_calls(server) -> list[dict]:
    return [r for r in server.sandbox.stats()["requests"] if r["kind"] == "conversations"]


def test_light_pages_are_read_in_fewer_calls_than_fixed_pages(make_graph_sandbox, settings):
    calls = {}
    for max_page_size in (10, 200):
        server = make_graph_sandbox(
            conversations=200, seed=4, weight_budget=100_000, weight_max_limit=505
        )
        point_settings_at(settings, server)
        settings.SYNC_PAGE_SIZE = 10
        settings.SYNC_MAX_PAGE_SIZE = max_page_size
        page = connect(server)

        run = sync(page, full=True)

        assert run.status == SyncRun.Status.COMPLETE
        assert_matches_truth(page, truth_of(server, page))
        calls[max_page_size] = len(list_calls(server))
        page.delete()

    assert calls[200] < calls[10]


def test_heavy_pages_shrink_to_fewer_conversations_then_fewer_messages_without_loss(
    make_graph_sandbox, settings
):
    # One conversation with 25 nested messages weighs 26: more than Graph serves here.
    server = make_graph_sandbox(conversations=30, seed=4, weight_budget=20)
    point_settings_at(settings, server)
    settings.FACEBOOK_MAX_RETRIES = 1
    page = connect(server)

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE
    # Every new conversation still has its newest 25 messages (paged for, 19 at a time).
    assert_matches_truth(page, truth_of(server, page))
    accepted = [r for r in list_calls(server) if r["error_code"] is None]
    assert {r["params"]["limit"] for r in accepted} == {"1"}


def test_a_resume_starts_from_the_sizes_the_run_learned(make_graph_sandbox, settings):
    server = make_graph_sandbox(conversations=60, seed=4, weight_budget=200)
    point_settings_at(settings, server)
    settings.FACEBOOK_MAX_RETRIES = 1
    page = connect(server)
    stops = iter([False] * 12)
    first = sync(page, should_stop=lambda: next(stops, True))
    assert first.status == SyncRun.Status.INTERRUPTED
    page.refresh_from_db()
    learned = Checkpoint.of(page).sizes["conversations"]
    assert learned < 25
    server.sandbox.reset_stats()

    resumed = sync(page, resume=True)

    assert resumed.status == SyncRun.Status.COMPLETE
    assert list_calls(server)[0]["params"]["limit"] == str(learned)  # not 25 again
    assert_matches_truth(page, truth_of(server, page))


def test_sizes_grow_after_full_pages_but_never_above_what_graph_accepted():
    sizes = PageSizes.start(25, 25, max_conversations=400)
    for _ in range(GROW_AFTER):
        sizes.accepted(conversations_returned=25)
    assert sizes.conversations == 50
    for _ in range(GROW_AFTER):
        sizes.accepted(conversations_returned=50)
    assert sizes.conversations == 100
    sizes.refused()  # Graph refused 100 after accepting 50
    assert (sizes.conversations, sizes.refused_once) == (50, True)
    for _ in range(3 * GROW_AFTER):
        sizes.accepted(conversations_returned=50)
    assert sizes.conversations == 50
    assert sizes.describe() == "pages of 25–50 conversations"


def test_sizes_give_up_only_when_one_conversation_with_one_message_is_too_much():
    sizes = PageSizes.start(2, 2, max_conversations=2)
    sizes.refused()
    sizes.refused()
    assert (sizes.conversations, sizes.messages) == (1, 1)
    with pytest.raises(TooMuchData):
        sizes.refused()


def test_an_incremental_sync_under_the_budget_stores_every_new_message(
    make_graph_sandbox, settings
):
    server = make_graph_sandbox(conversations=60, seed=7, weight_budget=60)
    settings.FACEBOOK_MAX_RETRIES = 1
    page, thread = synced_page_with_new_messages(server, settings, in_thread_of=200, new=40)

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE
    assert run.updated == 1
    assert_matches_truth(page, truth_of(server, page), more={thread["id"]: 40})
