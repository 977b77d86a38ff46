"""The scaling and db scenarios of production_benchmark.py (see benchmarks/README.md):
(1) several `run_worker` processes draining one queued run per Page, PostgreSQL + Redis;
(2) one big full sync on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
from pathlib import Path
from typing import Any

from bench_processes import MANAGE, PYTHON, ROOT, Sandbox, sandbox
from bench_workspace import Workspace
from production_common import RATE, REDIS_URL, CpuMeter, ops, wait_for

# -- (1) scaling --------------------------------------------------------------------------------


def start_worker(ws: Workspace, n: int) -> tuple[subprocess.Popen, Path]:
    log = ws.dir / f"worker-{n}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                PYTHON,
                MANAGE,
                "run_worker",
                "--skip-checks",
                "--no-startup-delay",
                "--interval",
                "0.1",
                "--worker-id",
                f"bench-worker-{n}",
            ],
            cwd=ROOT,
            env={**ws.env, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, log


def stop_worker(proc: subprocess.Popen) -> dict[str, float]:
    proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "maxrss_mb": round(usage.ru_maxrss / 1024, 1),
        "involuntary_switches": usage.ru_nivcsw,
    }


def scaling_round(sb: Sandbox, workers: int, pages: int, timeout: float) -> dict[str, Any]:
    ws = Workspace(sb, RATE, postgres=True, env={"REDIS_URL": REDIS_URL}, connect=False)
    procs: list[tuple[subprocess.Popen, Path]] = []
    try:
        ops(ws, "connect", json.dumps(sb.pages))
        procs = [start_worker(ws, n) for n in range(workers)]
        wait_for(
            lambda: all("Starting worker" in log.read_text() for _, log in procs),
            60,
            "the workers to start",
        )
        sb.control.reset_stats()
        meter = CpuMeter(sb)
        enqueued = ops(ws, "enqueue")
        active = "('queued', 'running', 'paused', 'cancelling')"
        wait_for(
            lambda: (
                ws.query(f"SELECT count(*) FROM pages_syncrun WHERE status IN {active}")[0][0] == 0
            ),
            timeout,
            "every run to finish",
        )
        cpu = meter.stop()
        usage = [stop_worker(p) for p, _ in procs]
        rows = ws.query(
            "SELECT status, current, graph_calls, worker_pid, created_at, started_at, "
            "finished_at FROM pages_syncrun ORDER BY id"
        )
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        ws.close()
    stats = sb.control.stats()
    statuses = sorted({r[0] for r in rows})
    # For every 613: the sandbox-side times (s) of the refused call's two previous accepted
    # calls on that Page, relative to it (a trailing 1.0 s window holding 2 calls refuses it).
    refused = []
    by_page: dict[str, list[dict]] = {}
    for req in stats["requests"]:
        by_page.setdefault(req["page_id"], []).append(req)
    for page_requests in by_page.values():
        accepted: list[float] = []
        for req in sorted(page_requests, key=lambda q: q["time"]):
            if req["error_code"] == 613:
                refused.append([round(req["time"] - t, 3) for t in accepted[-2:]])
            elif req["error_code"] is None:
                accepted.append(req["time"])
    conversations = sum(r[1] for r in rows)
    first_created = min(r[4] for r in rows)
    last_finished = max(r[6] for r in rows if r[6])
    wall = (last_finished - first_created).total_seconds()
    per_run = [(r[6] - r[5]).total_seconds() for r in rows if r[5] and r[6]]
    # A 613 parks its run for 60 s (resume_at) and frees the worker; what the other runs took
    # shows the scaling the rate-limit accident hides.
    unpaused_end = max(
        (r[6] for r in rows if r[5] and r[6] and (r[6] - r[5]).total_seconds() < 30),
        default=last_finished,
    )
    runs_per_worker: dict[int, int] = {}
    for r in rows:
        runs_per_worker[r[3]] = runs_per_worker.get(r[3], 0) + 1
    return {
        "workers": workers,
        "runs": len(rows),
        "statuses": statuses,
        "conversations": conversations,
        "wall_s": round(wall, 2),
        "conv_per_s": round(conversations / wall, 1),
        "enqueue_s": round(enqueued["done"] - enqueued["started"], 2),
        "wall_without_paused_runs_s": round((unpaused_end - first_created).total_seconds(), 2),
        "paused_runs": sum(1 for d in per_run if d >= 30),
        "per_run_s": [round(d, 2) for d in per_run],
        "run_s_median_min_max": [
            round(statistics.median(per_run), 2),
            round(min(per_run), 2),
            round(max(per_run), 2),
        ],
        "runs_per_worker": sorted(runs_per_worker.values()),
        "graph_calls": stats["total"],
        "rate_limit_613": sum(1 for r in stats["requests"] if r["error_code"] == 613),
        "graph_errors": stats["errors"],
        "refused_613_after_accepted_at_s": refused,
        "worker_rusage": usage,
        **cpu,
    }


def scenario_scaling(pages: int, n: int, worker_counts: list[int], latency_ms: float) -> dict:
    rounds = []
    with sandbox(n, latency_ms=latency_ms, rate_limit=RATE, pages=pages, seed=5) as sb:
        for k in worker_counts:
            print(f"  scaling: {k} worker(s) ...", flush=True)
            rounds.append(scaling_round(sb, k, pages, timeout=1800))
    base = rounds[0]["wall_s"]
    for r in rounds:
        r["speedup"] = round(base / r["wall_s"], 2)
        r["efficiency"] = round(r["speedup"] / r["workers"], 2)
        r["speedup_without_paused_runs"] = round(
            rounds[0]["wall_without_paused_runs_s"] / r["wall_without_paused_runs_s"], 2
        )
        calls_per_page = r["graph_calls"] / pages
        # Perfect sharing of the Pages, zero CPU time, every call of a Page exactly 1/RATE after
        # its previous one (a Page's first call goes at once):
        r["rate_floor_s"] = round(-(-pages // r["workers"]) * max(calls_per_page - 1, 0) / RATE, 1)
    return {
        "pages": pages,
        "conversations_per_page": n,
        "latency_ms": latency_ms,
        "rate_limit_per_page": RATE,
        "rounds": rounds,
        "target": "near-linear to 3 workers until per-Page limits bind",
    }


# -- (2) SQLite vs PostgreSQL -------------------------------------------------------------------


DB_VARIANTS = {
    "sqlite": (False, {}),
    "postgres": (True, {}),
    # Diagnostic: the same, with the sync's session not waiting for the WAL flush on COMMIT
    # (libpq reads PGOPTIONS). SQLite runs with synchronous=NORMAL in WAL mode, which does not
    # fsync on commit either, so this row shows how much of the gap is the per-conversation
    # durable commit.
    "postgres-async-commit": (True, {"PGOPTIONS": "-c synchronous_commit=off"}),
}


def scenario_db(n: int, profile: bool = False) -> dict:
    out: dict[str, Any] = {"conversations": n}
    with sandbox(n, seed=11) as sb:
        for name, (postgres, env) in DB_VARIANTS.items():
            print(f"  db: {name} ...", flush=True)
            with Workspace(sb, calls_per_second=0, postgres=postgres, env=env) as ws:
                r = ws.sync(f"db_{name}", profile=profile)
                r["db_rows"] = ws.counts()
            out[name] = r
    return out
