"""The recorder keeps a run's writes small however many problems it meets, and turns data the
database refuses into a problem of that one conversation."""

import json

import pytest
from django.db import DataError

from pages.models import SyncRun
from pages.sync.checkpoint import Checkpoint
from pages.sync.recorder import MAX_STORED_PROBLEMS, RunRecorder
from pages.sync.runs import claim, create_run

pytestmark = pytest.mark.django_db


def working_recorder(page) -> RunRecorder:
    run = create_run(page, trigger=SyncRun.Trigger.COMMAND)
    claim(run)
    cp = Checkpoint(runId=run.pk, passId="p", mode=run.mode)
    return RunRecorder(run, page, cp, graph_calls=lambda: 0, on_progress=lambda progress: None)


def test_thousands_of_huge_problems_stay_small_and_are_all_counted(
    page, django_assert_max_num_queries
):
    recorder = working_recorder(page)
    huge_id = "x" * 1_000_000

    # Per problem one checkpoint write (in its savepoint); the run row a few times a second
    # (on a loaded machine that can be once per problem: 4 queries each at most).
    with django_assert_max_num_queries(4 * 300 + 10):
        for n in range(300):
            recorder.record_problem(f"{n}-{huge_id}", "unreadable " * 10_000)
    recorder.flush()

    run = SyncRun.objects.get(pk=recorder.run.pk)
    page.refresh_from_db()
    assert run.problem_count == 300
    assert len(run.problems) == MAX_STORED_PROBLEMS
    assert all(len(p["id"]) <= 100 and len(p["error"]) <= 300 for p in run.problems)
    assert run.skipped == run.current == 300
    assert len(json.dumps(Checkpoint.of(page).problemIds)) < 300 * 110


def test_data_the_database_refuses_becomes_a_problem_and_its_writes_are_undone(page):
    recorder = working_recorder(page)

    def refused():
        page.conversations.create(facebook_id="t_1", updated_time="2026-01-01T00:00:00Z")
        raise DataError("value too long for type character varying(64)")

    recorder.commit_conversation("t_1", "Ana", outcome="inserted", work=refused)

    assert not page.conversations.exists()
    assert recorder.cp.problemIds == ["t_1"]
    assert "The database refused its data (DataError" in recorder.problems[0]["error"]
