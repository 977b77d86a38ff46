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

Shares sync_benchmark.py's helpers (bench_processes.py: sandbox process, wait4 rusage;
bench_workspace.py: fresh databases; bench_report.py: the JSON). The scenarios are in
production_scenarios.py (scaling, db) and production_live.py, their common steps in
production_common.py, the table in production_report.py. Prints a table and writes
benchmarks/results/production.json (production-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from bench_processes import ROOT
from bench_report import write_report
from production_live import scenario_live
from production_report import table
from production_scenarios import scenario_db, scenario_scaling


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
