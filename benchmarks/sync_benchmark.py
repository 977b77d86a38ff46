"""Benchmark of the sync engine against the Graph sandbox (see benchmarks/README.md).

    .venv/bin/python benchmarks/sync_benchmark.py            # full sizes (~11 min today: (b)
                                                             # waits out 60 s 613 pauses)
    .venv/bin/python benchmarks/sync_benchmark.py --quick    # 1/10 of the sizes, smoke run
    .venv/bin/python benchmarks/sync_benchmark.py --only a,c # some scenarios
    .venv/bin/python benchmarks/sync_benchmark.py --only f,g --weight-budgets 1300
                                                             # issue 8: weight budget, empty
                                                             # folders (with those budgets)
    .venv/bin/python benchmarks/sync_benchmark.py --only h   # issue 12: what the census costs
                                                             # a 10,000-conversation Page
    .venv/bin/python benchmarks/sync_benchmark.py --profile  # also cProfile each sync (slower;
                                                             # .prof files in results/)

Every measured sync runs in its own processes: the sandbox (`manage.py graph_sandbox`) and the
sync (`manage.py sync_page ID --json`) against a fresh SQLite file in a temp dir, migrated and
connected (`connect_page`) before the clock starts. Every manage.py call gets `--skip-checks`:
system checks import the whole URLconf (unrelated to syncing, and a moving target while the web
UI is being built); the sync's start-up (Django setup) is still inside its wall time.

Only the sync process is measured: its wall time, its CPU time and its peak RSS (`wait4()` rusage
of that one child, cross-checked by psutil sampling every 20 ms). Graph calls come from the
sandbox's `/_sandbox/stats`, reset right before the sync. Prints a table and writes
benchmarks/results/latest.json.

The pieces: bench_processes.py (the sandbox process, wait4 rusage), bench_workspace.py (a fresh
database, measuring one sync), sync_scenarios.py (a-d), weight_scenarios.py (f, g: the real
Graph's weight budget and omitted empty edges), census_scenarios.py (h: the census's cost, and
its own rows of the table), sync_report.py (the table) and bench_report.py (the JSON).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from bench_processes import ROOT
from bench_report import write_report
from census_scenarios import census_table, scenario_h
from sync_report import table
from sync_scenarios import scenario_a, scenario_b, scenario_c, scenario_d
from weight_scenarios import WEIGHT_BUDGETS, scenario_f, scenario_g


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/10 of the sizes (smoke run)")
    parser.add_argument(
        "--only", default="a,b,c,d,f,g,h", help="comma-separated scenarios (a-d, f-h)"
    )
    parser.add_argument(
        "--weight-budgets",
        default=",".join(map(str, WEIGHT_BUDGETS)),
        help="sandbox weight budgets for (f) and (g), comma-separated",
    )
    parser.add_argument(
        "--profile", action="store_true", help="run each sync under cProfile (skews timings)"
    )
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    only = set(args.only.split(","))
    budgets = tuple(int(b) for b in args.weight_budgets.split(","))
    results: dict[str, Any] = {}
    started = time.perf_counter()
    runners = {
        "a": lambda: scenario_a(2000 // scale, args.profile),
        "b": lambda: scenario_b(2000 // scale, 100 // scale, args.profile),
        "c": lambda: scenario_c(10_000 // scale, args.profile),
        "d": lambda: scenario_d(20_000 // scale, args.profile),
        "f": lambda: scenario_f(2000 // scale, args.profile, budgets),
        "g": lambda: scenario_g(10_000 // scale, args.profile, budgets),
        "h": lambda: scenario_h(10_000 // scale, args.profile),
    }
    for key, run in runners.items():
        if key in only:
            print(f"running scenario ({key}) ...", file=sys.stderr, flush=True)
            t = time.perf_counter()
            load_before = os.getloadavg()[0]
            results[key] = run()
            # Other work on the machine skews CPU-bound figures: keep the load next to them.
            results[key]["loadavg_1min_before_after"] = [load_before, os.getloadavg()[0]]
            print(f"  done in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    name = "latest-profiled" if args.profile else "latest"
    out, total_s = write_report(name, results, started, quick=args.quick, profiled=args.profile)
    others = {k: v for k, v in results.items() if k != "h"}
    if others:
        print(table(others))
    if "h" in results:
        print(("\n" if others else "") + census_table(results["h"]))
    if args.profile:
        print("\n(profiled run: timings include cProfile overhead)")
    print(f"\nJSON: {out.relative_to(ROOT)}   ({total_s} s in all)")


if __name__ == "__main__":
    main()
