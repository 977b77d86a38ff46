"""`connect_page` and `sync_page` as real processes: the contract scripts rely on, signals and
SIGKILL at any instant."""

import json
import signal
import time

import pytest

from conversations.models import Conversation, Message
from graph_sandbox import appsecret_proof
from pages.models import FacebookPage
from tests.helpers import connect, manage, spawn_manage, stored_state
from tests.truth import assert_matches_truth, expected_counts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RESULT_KEYS = {
    "page",
    "mode",
    "status",
    "current",
    "total",
    "inserted",
    "updated",
    "skipped",
    "events",
    "message",
}


def last_json_line(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def wait_for_progress(page: FacebookPage, at_least: int, proc, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.refresh_from_db()
        checkpoint = page.sync_checkpoint
        if checkpoint.get("status") == "running" and checkpoint.get("current", 0) >= at_least:
            return checkpoint
        if proc.poll() is not None:
            raise AssertionError(f"sync_page ended early: {proc.communicate()}")
        time.sleep(0.005)
    raise AssertionError("sync_page made no progress")


def test_connect_page_checks_the_token_and_prints_the_name(make_graph_sandbox):
    server = make_graph_sandbox(conversations=5, seed=2)
    page_id, name, token = server.pages[0]

    done = manage(server, "connect_page", "--page-id", page_id, "--access-token", token)

    assert done.returncode == 0, done.stderr
    assert name in done.stdout
    page = FacebookPage.objects.get(facebook_id=page_id)
    assert page.access_token == token
    assert token not in page.encrypted_access_token


def test_connect_page_with_a_bad_token_exits_nonzero_without_echoing_it(make_graph_sandbox):
    server = make_graph_sandbox(conversations=5, seed=2)
    page_id = server.pages[0][0]

    refused = manage(server, "connect_page", "--page-id", page_id, "--access-token", "EAAB-bogus")

    assert refused.returncode != 0
    assert "rejected the access token" in refused.stderr
    assert "EAAB-bogus" not in refused.stderr + refused.stdout
    assert not FacebookPage.objects.exists()


def test_debug_logs_of_graph_requests_never_show_the_token_or_its_proof(make_graph_sandbox):
    server = make_graph_sandbox(conversations=5, seed=2, app_secret="app-s3cret")
    page_id, _, token = server.pages[0]

    done = manage(
        server,
        *("connect_page", "--page-id", page_id, "--access-token", token),
        LOG_LEVEL="DEBUG",
        FACEBOOK_APP_SECRET="app-s3cret",
    )

    assert done.returncode == 0, done.stderr
    # urllib3 logged the request line, with the proof Graph requires in the query redacted.
    assert "appsecret_proof=[redacted]" in done.stderr
    for secret in (token, appsecret_proof("app-s3cret", token), "app-s3cret"):
        assert secret not in done.stderr + done.stdout


def test_connect_page_with_a_new_token_clears_needs_reconnect(make_graph_sandbox):
    server = make_graph_sandbox(conversations=5, seed=2)
    page = connect(server)
    FacebookPage.objects.filter(pk=page.pk).update(token_status="needs_reconnect")

    done = manage(
        server, "connect_page", "--page-id", page.facebook_id, "--access-token", server.pages[0][2]
    )

    assert done.returncode == 0, done.stderr
    page.refresh_from_db()
    assert page.token_status == FacebookPage.TokenStatus.OK


def test_sync_page_json_contract_and_exit_code(make_graph_sandbox):
    server = make_graph_sandbox(conversations=40, seed=5)
    page = connect(server)

    done = manage(server, "sync_page", page.facebook_id, "--json")

    assert done.returncode == 0, done.stderr
    result = last_json_line(done.stdout)
    assert set(result) == RESULT_KEYS
    truth = server.sandbox.truth(page.facebook_id)
    expected = expected_counts(truth)
    assert result["status"] == "complete"
    assert result["inserted"] == result["current"] == expected["conversations"]
    assert result["events"] == expected["events"]
    assert " conv" in done.stderr  # the progress bar


def test_sync_page_shows_names_without_terminal_escape_sequences(make_graph_sandbox):
    server = make_graph_sandbox(conversations=3, seed=5)
    page = connect(server)
    server.sandbox.rename_participant(page.facebook_id, n=3, name="\x1b[2J\x1b[31mMallory\x07")

    done = manage(server, "sync_page", page.facebook_id)

    assert done.returncode == 0, done.stderr
    assert "Mallory" in done.stderr  # the name is shown, cleaned
    assert "\x1b[2J" not in done.stderr
    assert "\x1b[31m" not in done.stderr
    assert "\x07" not in done.stderr


def test_sync_page_of_an_unknown_page_is_a_clear_error(make_graph_sandbox):
    server = make_graph_sandbox(conversations=5, seed=2)

    done = manage(server, "sync_page", "123456789", "--json")

    assert done.returncode != 0
    assert "not connected" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sync_page_stops_on_signal_within_seconds_and_resumes(make_graph_sandbox, signum):
    server = make_graph_sandbox(conversations=80, seed=9, latency_ms=40)
    page = connect(server)
    proc = spawn_manage(server, "sync_page", page.facebook_id, "--json", SYNC_PAGE_SIZE="10")
    wait_for_progress(page, 5, proc)

    sent = time.monotonic()
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=10)
    took = time.monotonic() - sent

    assert took < 5
    assert proc.returncode == 1
    result = last_json_line(stdout)
    assert result["status"] == "interrupted"
    page.refresh_from_db()
    assert page.sync_checkpoint["current"] == result["current"] == Conversation.objects.count()

    resumed = manage(server, "sync_page", page.facebook_id, "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert (
        last_json_line(resumed.stdout)["inserted"]
        == expected_counts(server.sandbox.truth(page.facebook_id))["conversations"]
    )


def test_sync_page_killed_at_several_moments_resumes_to_exact_rows(make_graph_sandbox):
    server = make_graph_sandbox(conversations=150, seed=11, latency_ms=30)
    page = connect(server)
    truth = server.sandbox.truth(page.facebook_id)
    args = ("sync_page", page.facebook_id, "--json")

    for kill_at, extra in ((15, ()), (60, ("--resume",)), (110, ("--resume",))):
        time.sleep(0.2)  # requests of a killed process may still be finishing in the sandbox
        server.sandbox.reset_stats()
        before = dict(page.sync_checkpoint)
        proc = spawn_manage(server, *args, *extra, SYNC_PAGE_SIZE="10")
        wait_for_progress(page, kill_at, proc)
        proc.kill()
        proc.communicate()
        if extra:
            # The resumed run started at the page in flight, not at the top.
            first = next(
                r for r in server.sandbox.stats()["requests"] if r["kind"] == "conversations"
            )
            assert first["params"].get("after") == before["after"]
        page.refresh_from_db()
        # Rows and checkpoint were committed together: they agree after a SIGKILL.
        assert Conversation.objects.count() == page.sync_checkpoint["current"]

    done = manage(server, *args, "--resume", SYNC_PAGE_SIZE="10")

    assert done.returncode == 0, done.stderr
    result = last_json_line(done.stdout)
    expected = expected_counts(truth)
    assert result["status"] == "complete"
    assert (result["current"], result["inserted"], result["updated"], result["skipped"]) == (
        expected["conversations"],
        expected["conversations"],
        0,
        0,
    )
    assert result["events"] == expected["events"]
    assert_matches_truth(page, truth)
    assert Message.objects.count() == len(stored_state(page)["events"]) - expected["conversations"]


def test_a_page_without_a_token_is_not_synced_by_id_or_with_all(make_graph_sandbox):
    server = make_graph_sandbox(conversations=5, seed=4)
    connected = connect(server)
    FacebookPage.objects.create(facebook_id="555000111", name="Made in the admin")

    by_id = manage(server, "sync_page", "555000111")
    everything = manage(server, "sync_page", "--all", "--json")

    assert by_id.returncode == 1
    assert "not connected: run connect_page" in by_id.stderr
    assert everything.returncode == 0, everything.stderr
    lines = [json.loads(line) for line in everything.stdout.strip().splitlines()]
    assert [line["page"] for line in lines] == [connected.facebook_id]


def test_sync_page_all_syncs_every_connected_page(make_graph_sandbox):
    server = make_graph_sandbox(conversations=20, seed=4, pages=2)
    first, second = connect(server, 0), connect(server, 1)

    done = manage(server, "sync_page", "--all", "--json")

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.strip().splitlines()]
    assert [line["page"] for line in lines[:2]] == [first.facebook_id, second.facebook_id]
    summary = lines[-1]
    assert summary["status"] == "complete"
    assert summary["inserted"] == Conversation.objects.count() == 40
