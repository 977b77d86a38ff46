"""What the production_benchmark.py scenarios share: the Django-side steps (bench_ops.py in a
subprocess), waiting for a condition, percentiles and the machine's CPU use.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import psutil
from bench_processes import PYTHON, ROOT, Sandbox
from bench_workspace import Workspace

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


def wait_for(predicate, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(every)
    raise RuntimeError(f"timed out waiting for {what}")
