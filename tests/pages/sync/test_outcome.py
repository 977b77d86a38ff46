"""How whatever ended a walk becomes the status and message a person sees (a pure function)."""

from datetime import UTC, datetime, timedelta

import pytest

from pages.graph.errors import (
    GraphError,
    ObjectError,
    PolicyBlockError,
    RateLimitError,
    TokenError,
    TransientGraphError,
)
from pages.models import SyncRun
from pages.sync.controls import SyncStopped
from pages.sync.outcome import Outcome, outcome_of

S = SyncRun.Status
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def outcome(error, *, cancel_requested=False, can_park=True) -> Outcome:
    return outcome_of(
        error,
        summary="Synced 3 conversations.",
        current=7,
        cancel_requested=cancel_requested,
        can_park=can_park,
        now=NOW,
    )


def test_a_walk_to_the_end_is_complete_with_its_summary():
    assert outcome(None) == Outcome(S.COMPLETE, "Synced 3 conversations.")


@pytest.mark.parametrize(
    ("cancel_requested", "status", "message"),
    [
        (False, S.INTERRUPTED, "Interrupted. Progress saved at conversation #7."),
        (True, S.CANCELLED, "Cancelled. Progress saved at conversation #7."),
    ],
)
def test_a_stop_is_cancelled_only_when_someone_asked(cancel_requested, status, message):
    assert outcome(SyncStopped(), cancel_requested=cancel_requested) == Outcome(status, message)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(0)])
def test_a_shutdown_is_interrupted(error):
    result = outcome(error)
    assert (result.status, result.message) == (
        S.INTERRUPTED,
        "Stopped by a shutdown. Progress saved at conversation #7.",
    )


def test_a_refused_token_fails_and_asks_for_a_reconnect():
    result = outcome(TokenError("(#190) Error validating access token", code=190))
    assert result.status == S.FAILED
    assert result.needs_reconnect
    assert result.token_error == "(#190) Error validating access token"
    assert "Reconnect the Page" in result.message


def test_a_long_rate_limit_parks_a_run_that_can_be_parked():
    result = outcome(RateLimitError("(#613) Calls limited", wait_seconds=600, code=613))
    assert result.status == S.PAUSED
    assert result.resume_at == NOW + timedelta(seconds=600)
    assert result.message == "Paused by Facebook's rate limit until 12:10:00 UTC."


def test_a_rate_limit_interrupts_a_run_that_cannot_be_parked():
    result = outcome(RateLimitError("limited", wait_seconds=600), can_park=False)
    assert (result.status, result.resume_at) == (S.INTERRUPTED, None)
    assert "resume after 12:10 UTC" in result.message


def test_a_rate_limit_after_a_cancel_request_is_cancelled_not_paused():
    result = outcome(RateLimitError("limited", wait_seconds=600), cancel_requested=True)
    assert result.status == S.CANCELLED


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (PolicyBlockError("(#368) blocked", code=368), "policy reasons"),
        (TransientGraphError("Graph answered HTTP 500."), "did not answer usably"),
        (ObjectError("(#100) no such object", code=100), "did not answer usably"),
        (GraphError("odd"), "did not answer usably"),
    ],
)
def test_graph_errors_fail_with_a_reason(error, text):
    result = outcome(error)
    assert result.status == S.FAILED
    assert text in result.message
    assert not result.needs_reconnect


def test_any_other_error_is_an_internal_error():
    assert outcome(RuntimeError("bug")) == Outcome(
        S.FAILED, "The sync stopped on an internal error."
    )
