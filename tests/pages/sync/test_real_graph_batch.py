"""The engine under per-item batch throttling (issue 8, item 6).

Each item of a batch counts against the Page's rate on its own: Graph may answer 613 for some
items of the fallback batch (an incremental run whose one-call tops are refused) and not for
others. A throttled item is simply not prefetched: its folder is read normally, the run neither
parks nor waits, and full, interrupted-and-resumed and incremental syncs end with the truth.

The sandbox's clock is held still (each call at the same instant) and moved on by hand, so
which items are over the rate is known: the refused one-call read and two items fit in R = 3.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from pages.models import SyncRun
from pages.sync.checkpoint import FOLDERS
from pages.sync.controls import RunControls
from pages.sync.engine import run_sync
from pages.sync.findings import unavailable_folders
from pages.sync.runs import claim, create_run
from tests.helpers import FakeTime, connect, point_settings_at, sync
from tests.pages.sync.real_graph import PAGE_SIZE, interrupted_sync, requests_of
from tests.truth import assert_matches_visible_truth, truth_of

RATE = 3
# The refused one-call read and the first two items are within the rate; the others are not.
PREFETCHED, THROTTLED = FOLDERS[:2], FOLDERS[2:]


class StillClock:
    """The sandbox's clock for its rate windows: still until moved on."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def next_second(self) -> None:
        self.now += 5


@pytest.fixture
def throttled(make_graph_sandbox, settings, db):
    """(server, page, clock): a synced page whose batch items count one by one against a
    rate of 3 calls a second, with new activity in every folder, and the clock moved on."""
    clock = StillClock()
    server = make_graph_sandbox(conversations=80, seed=7, clock=clock)
    point_settings_at(settings, server)
    settings.SYNC_PAGE_SIZE = PAGE_SIZE
    server.sandbox.configure(batch_item_rate_limit=RATE)
    page = connect(server)
    assert sync(page).status == SyncRun.Status.COMPLETE
    return server, page, clock


def new_activity(server, page) -> dict[str, int]:
    """New messages in some threads, new threads in every folder; returns `more`."""
    sandbox, page_id = server.sandbox, page.facebook_id
    more = dict.fromkeys(sandbox.add_messages(page_id, n_conversations=6, per_conversation=2), 2)
    for folder in FOLDERS:
        sandbox.add_conversations(page_id, 2, folder=folder)
    return more


def refuse_the_one_call_tops(server) -> None:
    server.sandbox.inject("object_error", endpoint="page")


def first_pages(requests: list[dict]) -> list[str]:
    """The folders whose first page was read by a plain list call."""
    return [
        r["params"]["folder"]
        for r in requests
        if r["kind"] == "conversations" and not r["in_batch"] and "after" not in r["params"]
    ]


def test_full_sync_under_batch_item_throttling(make_graph_sandbox, settings, db):
    server = make_graph_sandbox(conversations=80, seed=7, clock=StillClock())
    point_settings_at(settings, server)
    settings.SYNC_PAGE_SIZE = PAGE_SIZE
    server.sandbox.configure(batch_item_rate_limit=1)
    page = connect(server)
    refuse_the_one_call_tops(server)
    truth = truth_of(server, page)

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert run.inserted == len(truth["conversations"])
    assert_matches_visible_truth(page, truth)
    # A full run reads the folders one by one when the one-call tops are refused: no batch.
    assert server.sandbox.stats(page.facebook_id)["batch"] == 0
    assert sorted(first_pages(requests_of(server, page))) == sorted(FOLDERS)


def test_incremental_sync_reads_throttled_items_later(throttled):
    server, page, clock = throttled
    more = new_activity(server, page)
    truth = truth_of(server, page)
    clock.next_second()
    refuse_the_one_call_tops(server)
    server.sandbox.reset_stats()

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert (run.inserted, run.updated) == (2 * len(FOLDERS), len(more))
    assert_matches_visible_truth(page, truth, more=more)
    requests = requests_of(server, page)
    items = [r for r in requests if r["in_batch"]]
    assert [(r["params"]["folder"], r["error_code"]) for r in items] == [
        *((folder, None) for folder in PREFETCHED),
        *((folder, 613) for folder in THROTTLED),
    ]
    # Each throttled folder is read once, normally; the prefetched ones are not read again.
    assert first_pages(requests) == list(THROTTLED)


def worker_sync(page, fake_time: FakeTime) -> SyncRun:
    """An incremental sync run as a worker runs it: a long rate-limit pause parks the run."""
    run = create_run(page, trigger=SyncRun.Trigger.SCHEDULE)
    claim(run)
    controls = RunControls(
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        park_after_seconds=django_settings.SYNC_MAX_INLINE_PAUSE_SECONDS,
    )
    return run_sync(run, controls)


def test_a_throttled_batch_item_neither_parks_nor_pauses_the_run(throttled):
    server, page, clock = throttled
    more = new_activity(server, page)
    truth = truth_of(server, page)
    clock.next_second()
    refuse_the_one_call_tops(server)
    time = FakeTime()

    run = worker_sync(page, time)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert time.slept < 60
    assert_matches_visible_truth(page, truth, more=more)


def test_interrupted_incremental_sync_resumes(throttled):
    server, page, clock = throttled
    more = new_activity(server, page)
    truth = truth_of(server, page)
    clock.next_second()
    refuse_the_one_call_tops(server)

    first = interrupted_sync(page, after=3)
    assert first.mode == SyncRun.Mode.INCREMENTAL
    resumed = sync(page, resume=True)

    assert resumed.status == SyncRun.Status.COMPLETE, resumed.error
    assert resumed.mode == SyncRun.Mode.INCREMENTAL
    assert (resumed.inserted, resumed.updated) == (2 * len(FOLDERS), len(more))
    assert_matches_visible_truth(page, truth, more=more)


def test_a_folder_refused_since_the_last_run_with_throttled_items(throttled):
    """Graph refuses spam since the last run: the one-call tops ask for it and fail whole;
    the fallback batch answers #100 for spam and 613 for the items over the rate."""
    server, page, clock = throttled
    more = new_activity(server, page)
    everything = truth_of(server, page)
    stored_spam = set(
        page.conversations.filter(folder="spam").values_list("facebook_id", flat=True)
    )
    server.sandbox.configure(refused_folders=["spam"])
    clock.next_second()
    server.sandbox.reset_stats()

    run = sync(page)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert run.inserted == 2 * (len(FOLDERS) - 1)
    page.refresh_from_db()
    assert unavailable_folders(page) == {"spam": "refused"}
    requests = requests_of(server, page)
    assert [r["error_code"] for r in requests if r["kind"] == "page"][:1] == [100]
    items = {r["params"]["folder"]: r["error_code"] for r in requests if r["in_batch"]}
    # (Over the rate, the spam item is throttled before Graph looks at its folder.)
    assert items == {**dict.fromkeys(PREFETCHED), **dict.fromkeys(THROTTLED, 613)}
    spam_lists = [r for r in requests if r["params"].get("folder") == "spam"]
    assert [r["error_code"] for r in spam_lists] == [613, 100]
    # The spam threads stored before Graph refused the folder stay; the new ones are not
    # listed by Graph any more.
    expected = {
        **everything,
        "conversations": [
            c
            for c in everything["conversations"]
            if c["folder"] != "spam" or c["id"] in stored_spam
        ],
    }
    assert_matches_visible_truth(page, expected, more=more)

    clock.next_second()
    server.sandbox.reset_stats()
    again = sync(page)

    assert again.status == SyncRun.Status.COMPLETE, again.error
    assert [r for r in requests_of(server, page) if r["kind"] == "page" and r["error_code"]] == []
