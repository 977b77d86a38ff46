"""Production-mode benchmark (issue "Production mode"; see benchmarks/README.md).

    .venv/bin/python benchmarks/production_benchmark.py            # full sizes (~10 min)
    .venv/bin/python benchmarks/production_benchmark.py --quick    # smoke run (~2 min)
    .venv/bin/python benchmarks/production_benchmark.py --only scaling,db,live
    .venv/bin/python benchmarks/production_benchmark.py --only db --profile   # .prof per sync

Scenarios:
- scaling: 30 Pages in one sandbox (50 ms latency, 2 calls/s per Page), PostgreSQL + Redis,
  one queued run per Page enqueued at once, drained by 1, 2 and 3 `run_worker` processes.
  Wall time = first run created -> last run finished (database clock of the app processes).
- db: one full sync of a 5,000-conversation Page (no latency, no rate limit), `sync_page --json`
  on a fresh SQLite file and on a fresh PostgreSQL database (wall, conversations/s, peak RSS).
- live: daphne + 50 SSE clients on one Page's stream while `sync_page` runs in another process;
  for every `progress` event at every client: arrival time - the checkpoint `timestamp` carried
  by the event (set just before the commit of the conversation it reflects). Without Redis
  (SQLite, daphne polls the event counter) and with Redis (PostgreSQL + REDIS_URL).

Reuses sync_benchmark.py's helpers (sandbox process, fresh databases, wait4 rusage). Prints a
table and writes benchmarks/results/production.json (production-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import requests
from sync_benchmark import (
    MANAGE,
    PYTHON,
    ROOT,
    Sandbox,
    Workspace,
    run_measured,
    sandbox,
    write_report,
)

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
OPS = str(ROOT / "benchmarks" / "bench_ops.py")
RATE = 2.0  # calls/s per Page: the sandbox's limit and our FACEBOOK_CALLS_PER_SECOND


def ops(ws: Workspace, action: str, stdin: str = "") -> dict[str, Any]:
    out = subprocess.run(
        [PYTHON, OPS, action],
        cwd=ROOT,
        env=ws.env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(f"bench_ops {action} failed:\n{out.stderr[-1500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class CpuMeter:
    """System-wide CPU use, and the CPU time of named other processes (sandbox, postgres)."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.t0 = time.perf_counter()
        self.cpu0 = psutil.cpu_times()
        self.sandbox0 = sb.cpu_seconds()
        self.pg0 = self._postgres_cpu()

    @staticmethod
    def _postgres_cpu() -> float | None:
        total, seen = 0.0, False
        for proc in psutil.process_iter(["name"]):
            if (proc.info["name"] or "").startswith("postgres"):
                try:
                    t = proc.cpu_times()
                    total += t.user + t.system
                    seen = True
                except psutil.Error:
                    pass
        return total if seen else None

    def stop(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.t0
        c0, c1 = self.cpu0, psutil.cpu_times()
        busy = (sum(c1) - c1.idle - getattr(c1, "iowait", 0)) - (
            sum(c0) - c0.idle - getattr(c0, "iowait", 0)
        )
        pg1 = self._postgres_cpu()
        return {
            "machine_busy_cores": round(busy / wall, 2),
            "sandbox_cpu_s": round(self.sb.cpu_seconds() - self.sandbox0, 2),
            # Backends of other sessions' databases are included: context only.
            "postgres_cpu_s": round(pg1 - self.pg0, 2) if pg1 and self.pg0 else None,
        }


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


def wait_for(predicate, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}")


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


# -- (3) live delivery latency ------------------------------------------------------------------

CHECKPOINT_RE = re.compile(
    r'<section id="sync-checkpoint"[^>]*>.*?<pre class="checkpoint">(.*?)</pre>', re.S
)


class SseClient:
    """One browser-like SSE reader: records (arrival time.time(), data) per `progress` event.

    Parsing is left for after the run so the 50 reader threads do little more than wait on
    their sockets (they share this process' GIL)."""

    def __init__(self, url: str, cookies: dict[str, str]) -> None:
        self.events: list[tuple[float, str]] = []
        self.response = requests.get(url, cookies=cookies, stream=True, timeout=(10, 120))
        self.response.raise_for_status()
        self.transfer_encoding = self.response.headers.get("Transfer-Encoding")
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buffer = ""
        try:
            # chunk_size=None: each HTTP chunk as it arrives (no waiting to fill a buffer).
            for chunk in self.response.iter_content(chunk_size=None, decode_unicode=False):
                now = time.time()
                buffer += chunk.decode("utf-8")
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    if "event: stream-open" in block:
                        self.opened.set()
                    if "event: progress" in block:
                        self.events.append((now, block))
        except (requests.RequestException, AttributeError, ValueError):
            pass  # closed by us

    def close(self) -> None:
        self.response.close()


def event_checkpoint(block: str) -> dict | None:
    data = "\n".join(line[6:] for line in block.split("\n") if line.startswith("data: "))
    match = CHECKPOINT_RE.search(data)
    return json.loads(html.unescape(match.group(1))) if match else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def live_round(sb: Sandbox, variant: str, clients: int) -> dict[str, Any]:
    postgres = variant != "sqlite"
    env = {"REDIS_URL": REDIS_URL} if "redis" in variant else {}
    ws = Workspace(sb, RATE, postgres=postgres, env=env)
    daphne = None
    readers: list[SseClient] = []
    try:
        cookie = ops(ws, "staff-cookie")
        page_pk = ws.query("SELECT id FROM pages_facebookpage")[0][0]
        port = free_port()
        daphne = subprocess.Popen(
            [str(Path(PYTHON).with_name("daphne")), "-b", "127.0.0.1", "-p", str(port)]
            + ["fbsync.asgi:application"],
            cwd=ROOT,
            env=ws.env,
            stdout=subprocess.DEVNULL,
            stderr=open(ws.dir / "daphne.log", "w"),  # noqa: SIM115
        )
        url = f"http://127.0.0.1:{port}/pages/{page_pk}/events/"

        def daphne_up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_for(daphne_up, 30, "daphne", every=0.05)
        readers = [SseClient(url, cookie) for _ in range(clients)]
        for r in readers:
            if not r.opened.wait(30):
                raise RuntimeError("an SSE stream did not open")
        time.sleep(1.0)  # let daphne's background loop settle
        daphne_cpu0 = psutil.Process(daphne.pid).cpu_times()
        sb.control.reset_stats()
        cmd = [PYTHON, MANAGE, "sync_page", sb.page_id, "--json", "--skip-checks"]
        sync = run_measured(cmd, ws.env, ws.dir)
        sync_end = time.time()
        if sync.returncode:
            raise RuntimeError(f"sync failed: {sync.stderr_tail}")
        result = json.loads(sync.stdout.strip().splitlines()[-1])

        def all_final() -> bool:
            return all(
                any('data-status="complete"' in block for _, block in r.events) for r in readers
            )

        try:
            wait_for(all_final, 20, "the final event at every client", every=0.1)
            missing_final = 0
        except RuntimeError:
            missing_final = sum(
                not any('data-status="complete"' in b for _, b in r.events) for r in readers
            )
        t = psutil.Process(daphne.pid).cpu_times()
        daphne_cpu = (t.user + t.system) - (daphne_cpu0.user + daphne_cpu0.system)
        published = ws.query(
            f"SELECT count(*) FROM django_eventstream_event WHERE channel = 'page-{page_pk}'"
        )[0][0]
        encodings = {r.transfer_encoding for r in readers}
    finally:
        # Stop daphne first: closing a streamed response while its reader thread is blocked
        # in a read waits for the next bytes (up to the 20 s keep-alive), per client.
        if daphne:
            daphne.terminate()
            try:
                daphne.wait(10)
            except subprocess.TimeoutExpired:
                daphne.kill()
                daphne.wait()
        for r in readers:
            r.close()
        ws.close()

    delays: list[float] = []
    per_client_events: list[int] = []
    unparsed = 0
    unparsed_samples: list[str] = []
    currents: set[int] = set()
    for r in readers:
        per_client_events.append(len(r.events))
        for arrival, block in r.events:
            cp = event_checkpoint(block)
            if not cp or not cp.get("timestamp"):
                unparsed += 1
                unparsed_samples.append(block[:300])
                continue
            committed = datetime.fromisoformat(cp["timestamp"]).timestamp()
            delays.append(arrival - committed)
            currents.add(cp.get("current", -1))
    delays_ms = [d * 1000 for d in delays]
    return {
        "variant": variant,
        "clients": clients,
        "sync_wall_s": round(sync.wall_s, 2),
        "sync_cpu_s": round(sync.cpu_s, 2),
        "conversations": result["current"],
        "events_published": published,
        "distinct_checkpoints_received": len(currents),
        "events_per_client_min_max": [min(per_client_events), max(per_client_events)],
        "samples": len(delays_ms),
        "unparsed_events": unparsed,
        "unparsed_sample": unparsed_samples[:1],
        "clients_missing_final": missing_final,
        "delay_ms_median": round(statistics.median(delays_ms), 1),
        "delay_ms_p95": round(percentile(delays_ms, 95), 1),
        "delay_ms_p99": round(percentile(delays_ms, 99), 1),
        "delay_ms_max": round(max(delays_ms), 1),
        "delay_ms_min": round(min(delays_ms), 1),
        "daphne_cpu_s": round(daphne_cpu, 2),
        "transfer_encoding": sorted(str(e) for e in encodings),
        "seconds_after_sync_exit": round(time.time() - sync_end, 1),
        "met": percentile(delays_ms, 95) < 1000,
    }


def scenario_live(n: int, clients: int, variants: list[str], latency_ms: float) -> dict:
    rounds = []
    with sandbox(n, latency_ms=latency_ms, rate_limit=RATE, seed=13) as sb:
        for variant in variants:
            print(f"  live: {variant} ...", flush=True)
            rounds.append(live_round(sb, variant, clients))
    return {
        "conversations": n,
        "latency_ms": latency_ms,
        "rate_limit_per_page": RATE,
        "rounds": rounds,
        "target": "p95 < 1 s",
    }


# -- report -------------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    if "scaling" in results:
        s = results["scaling"]
        lines.append(
            f"(1) scaling: {s['pages']} Pages x {s['conversations_per_page']} conv, "
            f"{s['latency_ms']:g} ms latency, {s['rate_limit_per_page']:g} calls/s per Page, "
            "PostgreSQL + Redis"
        )
        lines.append(
            "workers  wall s  conv/s  speed-up  eff.  rate floor s  run s (med)  calls  613s"
            "  busy cores  worker CPU s  sandbox CPU s  pg CPU s  | w/o paused runs: wall s"
            "  speed-up"
        )
        for r in s["rounds"]:
            lines.append(
                f"{r['workers']:>7}  {r['wall_s']:>6.1f}  {r['conv_per_s']:>6.1f}  "
                f"{r['speedup']:>7.2f}x  {r['efficiency']:>4.2f}  {r['rate_floor_s']:>12.1f}  "
                f"{r['run_s_median_min_max'][0]:>11.2f}  {r['graph_calls']:>5}  "
                f"{r['rate_limit_613']:>4}  {r['machine_busy_cores']:>10.2f}  "
                f"{sum(u['cpu_s'] for u in r['worker_rusage']):>12.1f}  "
                f"{r['sandbox_cpu_s']:>13.1f}  {r['postgres_cpu_s']!s:>8}  | "
                f"{r['wall_without_paused_runs_s']:>20.1f}  "
                f"{r['speedup_without_paused_runs']:>7.2f}x"
            )
        lines.append("")
    if "db" in results:
        d = results["db"]
        lines.append(f"(2) one Page, {d['conversations']} conv, no latency, no rate limit")
        lines.append("database               wall s  conv/s  engine conv/s  CPU s  peak RSS MB")
        for name in DB_VARIANTS:
            if name not in d:
                continue
            r = d[name]
            lines.append(
                f"{name:<21}  {r['wall_s']:>6.2f}  {r['conv_per_s']:>6.1f}  "
                f"{r.get('engine_conv_per_s', 0):>13.1f}  {r['cpu_s']:>5.2f}  "
                f"{r['peak_rss_mb']:>11.1f}"
            )
        lines.append("")
    if "live" in results:
        lv = results["live"]
        lines.append(
            f"(3) live delivery: {lv['conversations']} conv, {lv['latency_ms']:g} ms, "
            f"{lv['rate_limit_per_page']:g} calls/s; commit -> arrival at each client"
        )
        lines.append(
            "variant          clients  events  samples  median ms  p95 ms  p99 ms  max ms"
            "  daphne CPU s  p95 < 1 s"
        )
        for r in lv["rounds"]:
            lines.append(
                f"{r['variant']:<15}  {r['clients']:>7}  {r['events_published']:>6}  "
                f"{r['samples']:>7}  {r['delay_ms_median']:>9.1f}  {r['delay_ms_p95']:>6.1f}  "
                f"{r['delay_ms_p99']:>6.1f}  {r['delay_ms_max']:>6.1f}  "
                f"{r['daphne_cpu_s']:>12.2f}  {'MET' if r['met'] else 'MISSED'}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", default="scaling,db,live", help="scaling,db,live")
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--conversations", type=int, default=None, help="per Page, scaling")
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--live-variants", default="sqlite,postgres+redis")
    parser.add_argument("--out", default="", help="results/<OUT>.json instead of the default")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the db scenario's syncs (.prof files)"
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    quick = args.quick
    results: dict[str, Any] = {}
    started = time.perf_counter()
    runners = {
        "scaling": lambda: scenario_scaling(
            args.pages if not quick else 10,
            args.conversations or (20 if quick else 150),
            [int(k) for k in args.workers.split(",")],
            latency_ms=50,
        ),
        "db": lambda: scenario_db(500 if quick else 5000, args.profile),
        "live": lambda: scenario_live(
            100 if quick else 500,
            10 if quick else args.clients,
            args.live_variants.split(","),
            latency_ms=50,
        ),
    }
    for key, run in runners.items():
        if key in only:
            print(f"running {key} ...", flush=True)
            t = time.perf_counter()
            load_before = os.getloadavg()[0]
            results[key] = run()
            results[key]["loadavg_1min_before_after"] = [load_before, os.getloadavg()[0]]
            print(f"  done in {time.perf_counter() - t:.0f} s", flush=True)
    name = args.out or ("production-quick" if quick else "production")
    name += "-profiled" if args.profile else ""
    out, total_s = write_report(name, results, started, quick=quick)
    print(table(results))
    print(f"\nJSON: {out.relative_to(ROOT)}   ({total_s} s in all)")


if __name__ == "__main__":
    main()
