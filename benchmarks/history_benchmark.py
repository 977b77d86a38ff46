"""History backfill benchmark (issue 10): how fast `sync_page ID --history` fetches long threads'
older messages under the real per-Page budget, and what it costs a main sync running beside it.

    .venv/bin/python benchmarks/history_benchmark.py                 # SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fbsync_horizon \\
        .venv/bin/python benchmarks/history_benchmark.py             # SQLite, then PostgreSQL
    .venv/bin/python benchmarks/history_benchmark.py --conversations 8 --messages 120   # smoke

The sandbox (its own process, `--rate-limit R --latency-ms L`) holds `--conversations` threads of
exactly `--messages` messages each (`add_threads`), and our processes run with
FACEBOOK_CALLS_PER_SECOND=R (2: the real per-Page budget, pages/graph/rate_limit.py). Per
database (a fresh SQLite file; with DATABASE_URL=postgres://…, also a fresh database on that
server, named fbsync_bench_…, dropped at the end; the database named in the URL is not touched):

1. **Normal sync** (`sync_page ID`): the first (full) sync, the newest 25 messages per thread.
2. **Incremental alone**: `--changed` threads get `--new-messages` messages, then `sync_page ID`.
3. **Backfill** (`sync_page ID --history`): every thread's older messages. Measured on its
   SyncRun row (started → finished, the client's Graph calls, messages stored) and the
   sandbox's call log (calls to /{conversation}/messages, 613s).
4. **Incremental during a backfill**: as many long threads again, synced (newest 25 each); a
   backfill started in the background; once it has stored messages, the same change as in 2
   and `sync_page ID`, `--repeats` times one after the other while the backfill runs (it
   yields the Page's budget to the main sync). Then, once the backfill ended, **incremental
   alone** `--repeats` times more.

The ratio is the median engine time (SyncRun started → finished) of the incrementals during
the backfill ÷ the median alone (1.00: not slowed). While they run, the backfill's own run row
is sampled every 0.2 s: its calls inside each main run, and its pace outside them.
The ceiling of a backfill is R / 1.1 calls/s (the spacing's margin) × HISTORY_PAGE_SIZE (100)
messages per call. Everything is also written to benchmarks/results/history.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlparse, urlunparse

GIVEN_DATABASE_URL = os.environ.pop("DATABASE_URL", "")
if GIVEN_DATABASE_URL.startswith(("postgres://", "postgresql://")):
    # fresh databases are created on the server DATABASE_URL names (see the docstring)
    os.environ["BENCH_POSTGRES_URL"] = urlunparse(
        urlparse(GIVEN_DATABASE_URL)._replace(path="/postgres")
    )

from bench_processes import MANAGE, PYTHON, ROOT, Sandbox, sandbox  # noqa: E402
from bench_report import write_report  # noqa: E402
from bench_workspace import Workspace  # noqa: E402

SPACING_MARGIN = 1.1  # pages/graph/rate_limit.py SAFETY_MARGIN
HISTORY_PAGE_SIZE = 100  # fbsync/settings.py HISTORY_PAGE_SIZE (default)
NEWEST = 25  # SYNC_MESSAGES_PER_CONVERSATION: what a sync stores of a new thread


def history_run(ws: Workspace) -> dict[str, Any]:
    """The newest history run's row: status, messages stored, the client's calls, its time."""
    row = ws.query(
        "SELECT id, status, inserted, graph_calls, started_at, finished_at FROM pages_syncrun "
        "WHERE mode = 'history' ORDER BY id DESC LIMIT 1"
    )
    if not row:
        return {}
    run_id, status, inserted, calls, started, finished = row[0]
    started, finished = (_time(v) for v in (started, finished))
    engine = (finished - started).total_seconds() if started and finished else None
    return {
        "id": run_id,
        "status": status,
        "inserted": inserted,
        "calls": calls,
        "engine_s": engine,
    }


def _time(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _epoch(value: Any) -> float:
    value = _time(value)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def main_runs(ws: Workspace, n: int) -> list[tuple[float, float]]:
    """(started, finished) in epoch seconds of the Page's last `n` main runs, newest first."""
    rows = ws.query(
        "SELECT started_at, finished_at FROM pages_syncrun WHERE mode <> 'history' "
        f"ORDER BY id DESC LIMIT {int(n)}"
    )
    return [(_epoch(a), _epoch(b)) for a, b in rows]


class Sampler:
    """The background backfill's (time, messages, calls), every 0.2 s, while a main sync runs."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.samples: list[tuple[float, int, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            run = history_run(self.ws)
            self.samples.append((time.time(), run.get("inserted", 0), run.get("calls", 0)))
            self.stop.wait(0.2)

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def at(self, when: float) -> tuple[int, int]:
        """(messages, calls) of the last sample taken at or before `when`."""
        before = [s for s in self.samples if s[0] <= when] or self.samples[:1]
        return before[-1][1], before[-1][2]

    def between(self, ws: Workspace) -> dict[str, int]:
        """What the backfill did while the newest main run of the Page worked."""
        started, finished = main_runs(ws, 1)[0]
        (m0, c0), (m1, c1) = self.at(started), self.at(finished)
        return {"messages": m1 - m0, "calls": c1 - c0, "main_run_s": round(finished - started, 2)}

    def rate_outside(self, ws: Workspace, n: int) -> float | None:
        """The backfill's calls/s between its first sample and its last, outside the last
        `n` main runs: the pace it keeps when it has the budget to itself."""
        if len(self.samples) < 2:
            return None
        t0, t1 = self.samples[0][0], self.samples[-1][0]
        calls = self.samples[-1][2] - self.samples[0][2]
        for started, finished in main_runs(ws, n):
            (_, c0), (_, c1) = self.at(started), self.at(finished)
            calls -= c1 - c0
            t1 -= max(0.0, min(finished, t1) - max(started, t0))
        return round(calls / (t1 - t0), 2) if t1 > t0 else None


def messages_calls(stats: dict[str, Any]) -> int:
    return stats.get("messages", 0)


def incremental(sb: Sandbox, ws: Workspace, label: str, args: argparse.Namespace) -> dict:
    """The same change every time (`--changed` threads, `--new-messages` each), then a sync."""
    sb.control.add_messages(
        sb.page_id, n_conversations=args.changed, per_conversation=args.new_messages
    )
    out = ws.sync(label)
    if out["mode"] != "incremental":
        raise RuntimeError(f"{label}: a {out['mode']} sync, not incremental")
    return out


def backfill_alone(ws: Workspace) -> dict[str, Any]:
    cmd = [PYTHON, MANAGE, "sync_page", ws.sb.page_id, "--history", "--json", "--skip-checks"]
    out = ws.measure(cmd, "backfill", profile=False)
    run = history_run(ws)
    if run.get("status") != "complete":
        raise RuntimeError(f"backfill ended {run}: {out['result']}")
    return {**out, "run": run}


def wait_until(check, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def during_backfill(sb: Sandbox, ws: Workspace, args: argparse.Namespace) -> dict[str, Any]:
    """A backfill in the background; `--repeats` incrementals timed one after the other while it
    runs (each counts only if the backfill was still running when it ended)."""
    sb.control.add_threads(sb.page_id, [args.messages] * args.conversations)
    ws.sync("sync of the new long threads")
    before = history_run(ws).get("id")
    log = open(ws.dir / "background.txt", "w")  # noqa: SIM115
    cmd = [PYTHON, MANAGE, "sync_page", sb.page_id, "--history", "--json", "--skip-checks"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ws.env, stdout=log, stderr=subprocess.STDOUT)
    during, inside = [], []
    try:

        def storing() -> dict | None:
            run = history_run(ws)
            working = run.get("id") != before and run.get("status") == "running"
            return run if working and run["inserted"] > 0 else None

        wait_until(storing, 120, "the background backfill to store messages")
        with Sampler(ws) as sampler:
            while len(during) < args.repeats:
                out = incremental(sb, ws, f"incremental during the backfill {len(during)}", args)
                if history_run(ws).get("status") != "running":
                    print("(the backfill ended before this incremental did: not counted)")
                    break
                during.append(out)
                inside.append(sampler.between(ws))
            if proc.wait(timeout=1800) != 0:
                tail = Path(log.name).read_text(errors="replace")[-1500:]
                raise RuntimeError(f"the background backfill failed:\n{tail}")
        wall = time.perf_counter() - started
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        log.close()
    run = history_run(ws)
    return {
        "incrementals": during,
        "backfill_while_each_worked": inside,  # its calls and messages in each main run
        "backfill_alone_calls_per_s": sampler.rate_outside(ws, len(during)),
        "backfill": {**run, "wall_s": round(wall, 2)},
    }


def database_bytes(ws: Workspace) -> int:
    if ws.pg_name:
        return ws.query("SELECT pg_database_size(current_database())")[0][0]
    ws.query("PRAGMA wal_checkpoint(TRUNCATE)")
    return ws.db.stat().st_size


def measure(args: argparse.Namespace, postgres: bool) -> dict[str, Any]:
    extra = ["--history-horizon-days", str(args.horizon_days)] if args.horizon_days else []
    with sandbox(
        0, latency_ms=args.latency_ms, rate_limit=args.rate, extra_args=extra
    ) as sb, Workspace(sb, args.rate, postgres=postgres) as ws:  # fmt: skip
        sb.control.add_threads(sb.page_id, [args.messages] * args.conversations)
        first = ws.sync("normal sync")
        alone = [incremental(sb, ws, "incremental alone", args)]
        size_before = database_bytes(ws)
        backfill = backfill_alone(ws)
        size_growth = database_bytes(ws) - size_before
        contention = during_backfill(sb, ws, args)
        with Sampler(ws):  # the same sampling load as during the backfill, for a fair ratio
            for n in range(args.repeats):
                alone.append(incremental(sb, ws, f"incremental alone, after {n}", args))
        total = ws.counts()
    run = backfill["run"]
    calls = run["calls"]
    engine = run["engine_s"]
    ceiling = args.rate / SPACING_MARGIN * HISTORY_PAGE_SIZE
    alone_s = median(a["engine_s"] for a in alone)
    during_s = median(d["engine_s"] for d in contention["incrementals"])
    return {
        "db": "PostgreSQL" if postgres else "SQLite",
        "threads": args.conversations,
        "messages_per_thread": args.messages,
        "normal_sync": {
            "wall_s": first["wall_s"],
            "engine_s": round(first["engine_s"], 2),
            "calls": first["client_calls"],
            "messages_stored": args.conversations * min(NEWEST, args.messages),
        },
        "backfill": {
            "messages": run["inserted"],
            "engine_s": round(engine, 2),
            "process_wall_s": backfill["wall_s"],
            "calls_client": calls,
            "calls_sandbox_messages_edge": messages_calls(backfill["graph"]),
            "rate_limit_613": backfill["graph"]["rate_limit_613"],
            "messages_per_s": round(run["inserted"] / engine, 1),
            "messages_per_call": round(run["inserted"] / max(calls, 1), 1),
            "calls_per_s": round(calls / engine, 2),
            "ceiling_messages_per_s": round(ceiling, 1),
            "of_ceiling_pct": round(100 * run["inserted"] / engine / ceiling, 1),
            "cpu_s": backfill["cpu_s"],
            "peak_rss_mb": backfill["peak_rss_mb"],
        },
        # what the backfill's rows (messages, their events) added to the database
        "database_bytes_per_1000_messages": round(size_growth / run["inserted"] * 1000),
        "incremental_alone_engine_s": [round(a["engine_s"], 2) for a in alone],
        "incremental_alone_calls": [a["client_calls"] for a in alone],
        "incremental_during_engine_s": [
            round(d["engine_s"], 2) for d in contention["incrementals"]
        ],
        "incremental_during_calls": [d["client_calls"] for d in contention["incrementals"]],
        "incremental_during_613": sum(
            d["graph"]["rate_limit_613"] for d in contention["incrementals"]
        ),
        # medians: the machine is shared, single runs move by ±20 %
        "incremental_alone_median_s": round(alone_s, 2),
        "incremental_during_median_s": round(during_s, 2),
        "ratio_during_over_alone": round(during_s / alone_s, 2),
        "backfill_while_each_worked": contention["backfill_while_each_worked"],
        "backfill_calls_per_s_outside_main_runs": contention["backfill_alone_calls_per_s"],
        "backfill_with_a_main_sync_inside": contention["backfill"],
        "stored_at_the_end": total,
    }


def print_rows(rows: list[dict[str, Any]]) -> None:
    print()
    print(
        f"{'db':<11}{'messages':>9}{'calls':>7}{'msg/call':>9}{'msg/s':>8}{'ceiling':>9}"
        f"{'calls/s':>8}{'613':>5}{'time s':>8}   incremental (median): alone → during = ratio"
    )
    for r in rows:
        b = r["backfill"]
        print(
            f"{r['db']:<11}{b['messages']:>9}{b['calls_client']:>7}{b['messages_per_call']:>9}"
            f"{b['messages_per_s']:>8}{b['ceiling_messages_per_s']:>9}{b['calls_per_s']:>8}"
            f"{b['rate_limit_613']:>5}{b['engine_s']:>8}   {r['incremental_alone_median_s']:.2f} s"
            f" → {r['incremental_during_median_s']:.2f} s = {r['ratio_during_over_alone']}×"
        )
    for r in rows:
        n, b = r["normal_sync"], r["backfill"]
        inside = r["backfill_while_each_worked"]
        print(
            f"{r['db']}: normal sync {n['engine_s']} s ({n['wall_s']} s wall), {n['calls']} calls, "
            f"{n['messages_stored']} messages. Backfill process {b['process_wall_s']} s wall, "
            f"{b['cpu_s']} s CPU, {b['peak_rss_mb']} MB peak; database +"
            f"{r['database_bytes_per_1000_messages'] / 1024:.0f} KiB per 1,000 messages.\n"
            f"  incremental alone {r['incremental_alone_engine_s']} s "
            f"({r['incremental_alone_calls']} calls), during {r['incremental_during_engine_s']} s "
            f"({r['incremental_during_calls']} calls, {r['incremental_during_613']} × 613); the "
            f"backfill's calls while each ran: {[i['calls'] for i in inside]}, its pace outside "
            f"them {r['backfill_calls_per_s_outside_main_runs']} calls/s; the backfill with the "
            f"main syncs inside: {r['backfill_with_a_main_sync_inside']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--messages", type=int, default=300, help="per thread")
    parser.add_argument("--rate", type=float, default=2.0, help="calls/s per Page (both sides)")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="the sandbox's")
    parser.add_argument("--changed", type=int, default=20, help="threads the incremental finds")
    parser.add_argument("--new-messages", type=int, default=30, help="per changed thread")
    parser.add_argument(
        "--horizon-days", type=float, default=None, help="the sandbox's history horizon"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="incrementals during the backfill, and after"
    )
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    databases = [] if args.no_sqlite else [False]
    if GIVEN_DATABASE_URL.startswith(("postgres://", "postgresql://")):
        databases.append(True)
    started = time.perf_counter()
    rows = []
    for postgres in databases:
        rows.append(measure(args, postgres))
        print_rows(rows[-1:])
    if len(rows) > 1:
        print_rows(rows)
    path, total_s = write_report("history", {"rows": rows}, started, args=vars(args))
    print(f"\nwritten to {path} ({total_s} s)")


if __name__ == "__main__":
    sys.exit(main())
