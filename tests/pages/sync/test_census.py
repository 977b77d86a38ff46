"""The census (issue 12, item 1): a first or full sync counts the Page's conversations before
it walks them, so "15 of 250" is true from the first conversation; resumably, cheaply, and
never at the cost of the sync itself."""

from __future__ import annotations

import pytest

from pages.models import SyncRun
from pages.sync.checkpoint import FOLDERS, Checkpoint
from tests.helpers import sync
from tests.pages.sync.real_graph import (
    http_requests,
    interrupted_sync,
    requests_of,
    switched_sandbox,
)
from tests.truth import assert_matches_truth, assert_matches_visible_truth, truth_of

pytestmark = pytest.mark.django_db


def census_requests(requests: list[dict]) -> list[dict]:
    """The census's calls: id-only lists, or the one call for every folder's ids."""
    return [
        r
        for r in requests
        if r["params"].get("fields") == "id" or "{id}" in r["params"].get("fields", "")
    ]


class Snapshots(list):
    """Collects the progress snapshots of a run (an on_progress callback)."""

    def __call__(self, snapshot) -> None:
        self.append(snapshot)

    def __bool__(self) -> bool:  # a callback, even before it has collected anything
        return True

    def walking(self):
        return [s for s in self if s.phase != "census" and s.status == "running"]


def test_a_first_sync_knows_its_total_before_the_first_conversation(make_graph_sandbox, settings):
    server, page = switched_sandbox(make_graph_sandbox, settings, conversations=120)
    truth = truth_of(server, page)
    snapshots = Snapshots()

    run = sync(page, on_progress=snapshots)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert_matches_truth(page, truth)
    assert run.total == run.current == 120
    walking = snapshots.walking()
    assert walking[0].current == 0
    assert walking[0].total == 120
    assert all(s.total == 120 for s in walking)
    assert not any(s.total_is_estimate for s in walking)
    counting = [s.counted for s in snapshots if s.phase == "census"]
    assert counting == sorted(counting)
    # 120 conversations in five folders: one call reads every folder's ids.
    census = census_requests(requests_of(server, page))
    assert len(census) == 1, census
    assert Checkpoint.saved_now(page).census["counts"] == {
        folder: sum(1 for c in truth["conversations"] if c["folder"] == folder)
        for folder in ("inbox", "other", "page_done", "pending", "spam")
    }


def test_the_census_pages_on_through_big_folders(make_graph_sandbox, settings):
    server, page = switched_sandbox(make_graph_sandbox, settings, conversations=260)
    settings.SYNC_CENSUS_PAGE_SIZE = 30
    snapshots = Snapshots()

    run = sync(page, on_progress=snapshots)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert snapshots.walking()[0].total == 260
    census = census_requests(requests_of(server, page))
    inbox = sum(1 for c in truth_of(server, page)["conversations"] if c["folder"] == "inbox")
    assert len(census) >= 1 + inbox // 30
    # The walk reads its own pages (10, growing to 25): the census changed nothing it asks.
    walk = [r for r in requests_of(server, page) if r not in census and "folder" in r["params"]]
    assert walk
    assert all(int(r["params"]["limit"]) <= 25 for r in walk), walk


def test_a_census_stopped_midway_resumes_where_it_was(make_graph_sandbox, settings):
    server, page = switched_sandbox(make_graph_sandbox, settings, conversations=300)
    settings.SYNC_CENSUS_PAGE_SIZE = 25
    truth = truth_of(server, page)
    stopped = interrupted_sync(page, when=lambda: Checkpoint.saved_now(page).counted >= 50)
    saved = Checkpoint.of(page)
    assert saved.phase == "census"
    assert saved.counted >= 50
    assert saved.census["after"] is not None  # stopped inside a folder, not between two
    assert stopped.current == 0
    before = len(census_requests(requests_of(server, page)))
    seen = Snapshots()

    run = sync(page, resume=True, on_progress=seen)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert run.total == 300
    assert seen.walking()[0].total == 300
    assert_matches_truth(page, truth)
    # The resume went on counting from where it stopped, not from the top.
    resumed = census_requests(requests_of(server, page))[before:]
    assert resumed[0]["params"]["folder"] == FOLDERS[saved.census["folderIndex"]]
    assert resumed[0]["params"]["after"] == saved.census["after"]


@pytest.mark.parametrize(
    "switches",
    [
        {"refused_folders": ["spam"]},
        {"ignored_folders": ["pending"]},
        {"omit_empty_edges": True, "refused_folders": ["page_done"]},
    ],
    ids=["refused", "ignored", "omitted-and-refused"],
)
def test_folders_graph_refuses_or_ignores_count_as_empty(make_graph_sandbox, settings, switches):
    server, page = switched_sandbox(make_graph_sandbox, settings, conversations=90, **switches)
    snapshots = Snapshots()

    run = sync(page, on_progress=snapshots)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    truth = truth_of(server, page)
    assert_matches_visible_truth(page, truth)
    visible = page.conversations.count()
    assert visible < 90
    assert snapshots.walking()[0].total == visible == run.total


def test_a_census_graph_keeps_refusing_ends_early_and_the_sync_goes_on(
    make_graph_sandbox, settings
):
    server, page = switched_sandbox(make_graph_sandbox, settings, conversations=60)
    truth = truth_of(server, page)
    # Graph refuses the one call for all folders, then every id list down to 25 ids
    # (400, 200, 100, 50, 25): the census gives up; the walk's own calls are answered.
    server.sandbox.inject("heavy", count=1, endpoint="page")
    server.sandbox.inject("heavy", count=5, endpoint="conversations")
    snapshots = Snapshots()

    run = sync(page, on_progress=snapshots)

    assert run.status == SyncRun.Status.COMPLETE, run.error
    assert_matches_truth(page, truth)
    assert all(s.total is None for s in snapshots.walking()[:-1])
    limits = [
        int(r["params"]["limit"])
        for r in census_requests(requests_of(server, page))
        if "limit" in r["params"]
    ]
    assert limits[:5] == [400, 200, 100, 50, 25]
    assert "census" in {s.phase for s in snapshots}


def test_incremental_runs_take_no_census(make_graph_sandbox, settings):
    server, page = switched_sandbox(make_graph_sandbox, settings, conversations=40)
    assert sync(page).status == SyncRun.Status.COMPLETE
    server.sandbox.reset_stats()
    snapshots = Snapshots()

    run = sync(page, on_progress=snapshots)

    assert run.mode == SyncRun.Mode.INCREMENTAL
    assert run.status == SyncRun.Status.COMPLETE
    assert census_requests(requests_of(server, page)) == []
    assert "census" not in {s.phase for s in snapshots}
    assert all(s.total is None for s in snapshots)


def test_a_full_resync_counts_again_and_the_census_can_be_turned_off(make_graph_sandbox, settings):
    server, page = switched_sandbox(make_graph_sandbox, settings, conversations=40)
    assert sync(page).status == SyncRun.Status.COMPLETE
    server.sandbox.reset_stats()
    assert sync(page, full=True).total == 40
    assert len(census_requests(requests_of(server, page))) == 1

    settings.SYNC_CENSUS_PAGE_SIZE = 0
    server.sandbox.reset_stats()
    calls_before = http_requests(server, page)
    run = sync(page, full=True)
    assert run.status == SyncRun.Status.COMPLETE
    assert census_requests(requests_of(server, page)) == []
    assert calls_before == 0
