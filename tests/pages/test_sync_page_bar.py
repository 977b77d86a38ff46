"""`sync_page`'s progress bar tells the web card's story: the same total, percent, rate and ETA
(pages.sync.pace), what the run is doing (counting, a folder, checking recent conversations),
log records printed above it, and an ending styled by how the run ended."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pages.management.commands._sync_bar import SyncBar, bar_line, duration_text
from pages.management.commands.sync_page import Command
from pages.sync.checkpoint import SyncProgress
from pages.sync.pace import pace_of
from tests.helpers import ROOT, connect, manage, manage_env
from tests.truth import expected_counts

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WALKING = SyncProgress(
    run_id=1,
    status="running",
    mode="full",
    current=0,
    total=None,
    total_is_estimate=False,
    inserted=0,
    updated=0,
    skipped=0,
    events=0,
    current_name="",
    folder="inbox",
    message="",
    phase="walk",
)


def walking(seconds: float = 40, **changes) -> SyncProgress:
    started = (NOW - timedelta(seconds=seconds)).isoformat()
    return replace(WALKING, walk_started_at=started, **changes)


def test_the_census_counts_before_the_walk():
    line = bar_line(replace(WALKING, phase="census", counted=1200), NOW)

    assert line.text() == "Counting conversations: 1,200"
    assert line.total is None  # no bar while the total is unknown


def test_the_walk_shows_folder_position_percent_rate_and_eta_as_the_card_computes_them():
    snapshot = walking(
        40,
        current=150,
        total=250,
        inserted=140,
        updated=10,
        events=400,
        folder="other",
        folder_index=1,
        current_name="Maria",
    )

    line = bar_line(snapshot, NOW)

    assert line.text() == (
        "Other 2/5 | 150/250 60% | 3.8 conv/s | ETA 0:27 | "
        "+140 new ↻10 updated 📊 400 events | Maria"
    )
    # The very numbers of pages.sync.pace, the web card's calculation.
    pace = pace_of(
        walk_started_at=snapshot.walk_started_at,
        walk_start_current=0,
        current=150,
        total=250,
        now=NOW,
    )
    assert f"{pace.rate:.1f} conv/s" in line.stats
    assert f"ETA {duration_text(pace.eta)}" in line.stats
    assert (line.total, line.current) == (250, 150)  # what tqdm's bar is drawn from


def test_a_resumed_run_counts_its_pace_from_where_it_began():
    line = bar_line(walking(40, current=190, total=250, walk_start_current=150), NOW)

    assert "190/250 76% | 1.0 conv/s | ETA 1:00" in line.text()


def test_no_eta_until_the_rate_is_stable():
    line = bar_line(walking(5, current=10, total=250), NOW)

    assert line.text().startswith("Inbox 1/5 | 10/250 4% | 2.0 conv/s | +0 new")
    assert "ETA" not in line.text()


def test_without_a_total_there_is_no_of_no_percent_no_eta():
    line = bar_line(walking(60, current=90, inserted=90, events=300, folder_index=0), NOW)

    assert (
        line.text()
        == "Inbox 1/5 | 90 conversations | 1.5 conv/s | +90 new ↻0 updated 📊 300 events"
    )
    assert line.total is None


def test_an_estimated_total_says_so():
    line = bar_line(walking(40, current=15, total=250, total_is_estimate=True), NOW)

    assert "15/~250 6%" in line.text()


def test_before_the_walk_began_there_is_no_rate():
    line = bar_line(replace(WALKING, current=0, total=250), NOW)

    assert line.text() == "Inbox 1/5 | 0/250 0% | +0 new ↻0 updated 📊 0 events"


def test_an_incremental_run_counts_what_changed():
    snapshot = walking(4, mode="incremental", current=14, inserted=2, updated=10, skipped=2)

    line = bar_line(snapshot, NOW)

    assert line.text() == (
        "Checking recent conversations: 12 changed so far | Inbox 1/5 | 3.5 conv/s | "
        "+2 new ↻10 updated 📊 0 events"
    )


def test_the_closing_pass_and_the_end_are_named():
    closing = bar_line(walking(40, phase="closing", current=240, total=250), NOW)
    complete = bar_line(walking(40, status="complete", current=250, total=250), NOW)
    failed = bar_line(walking(40, status="failed", current=20, total=250), NOW)

    assert closing.text().startswith("Closing pass, Inbox 1/5 | 240/250 96% |")
    assert complete.text().startswith("Complete | 250/250 100% |")
    assert failed.text().startswith("Failed | 20/250 8% |")


def test_a_slow_rate_is_given_per_minute_not_as_zero():
    line = bar_line(walking(600, current=30, total=250), NOW)

    assert "3.0 conv/min" in line.text()


def test_names_are_cleaned_and_cut():
    line = bar_line(walking(current=1, current_name="\x1b\u202eMallory the very long name"), NOW)

    assert line.text().endswith("| Mallory the very long na")


@pytest.mark.parametrize(
    ("seconds", "text"), [(6, "0:06"), (750, "12:30"), (3723, "1:02:03"), (0, "0:00")]
)
def test_durations(seconds, text):
    assert duration_text(timedelta(seconds=seconds)) == text


def test_the_bar_draws_our_text_and_never_tqdms_own_count_rate_or_eta():
    out = io.StringIO()
    bar = SyncBar(file=out, bar_format="{desc}", desc="Starting", mininterval=0, miniters=0)
    bar.show(bar_line(replace(WALKING, phase="census", counted=100), NOW))
    bar.show(bar_line(replace(WALKING, phase="census", counted=200), NOW))
    bar.show(bar_line(walking(40, current=150, total=250), NOW))
    bar.close()

    drawn = [part.rstrip() for part in out.getvalue().replace("\n", "\r").split("\r") if part]
    assert drawn[:3] == ["Starting", "Counting conversations: 100", "Counting conversations: 200"]
    # tqdm draws the bar (in ASCII into a file without an encoding) from our current/total.
    assert drawn[-1].startswith("Inbox 1/5 |#######2    | 150/250 60% | 3.8 conv/s | ETA 0:27 |")
    assert "it/s" not in out.getvalue()
    assert "?" not in out.getvalue()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


GREEN, RED, YELLOW = "\x1b[32;1m", "\x1b[31;1m", "\x1b[33;1m"


@pytest.mark.parametrize(
    ("status", "colour"),
    [("complete", GREEN), ("failed", RED), ("interrupted", YELLOW), ("cancelled", YELLOW)],
)
def test_the_ending_is_styled_by_how_the_run_ended(status, colour):
    terminal = Terminal()
    command = Command(stderr=terminal, force_color=True)

    command.say_how_it_ended({"status": status, "message": "Synced 3 conversations."})

    assert terminal.getvalue().startswith(f"{colour}Synced 3 conversations.")


def test_the_ending_is_plain_text_in_a_file():
    written = io.StringIO()
    command = Command(stderr=written, force_color=True)

    command.say_how_it_ended({"status": "failed", "message": "Graph said no."})

    assert written.getvalue() == "Graph said no.\n"


def in_a_terminal(server, *args: str, timeout: float = 90, **env: str) -> tuple[int, str]:
    """Run manage.py with stdout and stderr on a 40×200 pseudo-terminal, as a person would;
    return its exit code and everything the terminal received (its "\r\n" read as "\n")."""
    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=manage_env(server, **env),
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    shown = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the process has closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    return proc.returncode, shown.decode().replace("\r\n", "\n")


LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_first_sync_in_a_terminal_counts_then_walks_with_total_rate_and_ends_in_green(
    make_graph_sandbox,
):
    server = make_graph_sandbox(conversations=60, seed=5, latency_ms=20)
    page = connect(server)
    total = expected_counts(server.sandbox.truth(page.facebook_id))["conversations"]

    code, shown = in_a_terminal(server, "sync_page", page.facebook_id, SYNC_PAGE_SIZE="10")

    assert code == 0, shown
    draws = [draw.rstrip() for draw in shown.split("\r")]
    assert any(draw.startswith("Counting conversations: ") for draw in draws), shown
    walking = [
        draw
        for draw in draws
        if re.match(rf"Inbox 1/5 \|.{{12}}\| \d+/{total} \d+% \| [\d.]+ conv/s \| ", draw)
    ]
    assert walking, shown
    assert not re.search(r"\[\d\d:\d\d", shown)  # tqdm's own "[elapsed<remaining, rate]"
    # The bar is left showing the end, and the summary follows on a line of its own.
    assert re.search(rf"\rComplete \|.{{12}}\| {total}/{total} 100% \|[^\r]*\n", shown)
    assert f"{GREEN}Synced {total} conversations" in shown
    assert RED not in shown


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_expected_fallback_logs_at_info_on_a_line_of_its_own_above_the_bar(
    make_graph_sandbox,
):
    server = make_graph_sandbox(conversations=60, seed=5, latency_ms=20)
    page = connect(server)
    # Graph refuses the one-call read of the folder tops: the sync reads them otherwise.
    server.sandbox.inject("heavy", count=None, endpoint="page")

    code, shown = in_a_terminal(
        server, "sync_page", page.facebook_id, LOG_LEVEL="INFO", SYNC_PAGE_SIZE="10"
    )

    assert code == 0, shown
    assert "INFO pages.graph.client: Graph error code=1 " in shown
    assert "INFO pages.sync.listing: Graph refused the expanded folder tops" in shown
    assert " WARNING " not in shown
    records = [match.start() for match in LOG_RECORD.finditer(shown)]
    bar_started = shown.index("Starting")
    assert any(start > bar_started for start in records)
    # tqdm cleared the bar's line before each record (without the redirect a record would
    # follow the bar's text on its line, and the next redraw would overwrite it).
    assert all(start == 0 or shown[start - 1] in "\r\n" for start in records), shown


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_into_a_file_the_bar_is_drawn_rarely_and_ends_readable(make_graph_sandbox):
    # Slow enough calls that the sync lasts seconds on any machine (the point of the test).
    server = make_graph_sandbox(conversations=60, seed=5, latency_ms=250)
    page = connect(server)

    started = time.monotonic()
    done = manage(server, "sync_page", page.facebook_id, SYNC_PAGE_SIZE="10")
    took = time.monotonic() - started

    assert done.returncode == 0, done.stderr
    draws = [draw for draw in done.stderr.split("\r") if draw.strip()]
    # At a fifth of a second a redraw, a sync this long would draw a line a page and more.
    assert took > 2
    assert len(draws) <= 6 + int(took // 10), draws
    last_two = done.stderr.rstrip("\n").split("\n")[-2:]
    assert last_two[0].rsplit("\r", 1)[-1].startswith("Complete |")
    assert last_two[1].startswith("Synced ")  # plain: no colour codes in a file
