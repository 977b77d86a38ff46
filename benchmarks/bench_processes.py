"""The processes a benchmark measures (see benchmarks/README.md): the Graph sandbox
(`manage.py graph_sandbox`) and one measured child (`wait4()` rusage of that child only,
cross-checked by psutil sampling every 20 ms). Also the paths every benchmark module uses.
Shared by sync_benchmark.py and production_benchmark.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MANAGE = str(ROOT / "manage.py")
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

from graph_sandbox.control import SandboxControl  # noqa: E402  (stdlib only, no Django)

# -- processes ----------------------------------------------------------------------------------


@dataclass
class Sandbox:
    proc: subprocess.Popen
    url: str
    page_id: str
    token: str
    control: SandboxControl
    # Every page the sandbox serves ({"id", "name", "access_token"}); page_id/token are the first.
    pages: list[dict[str, str]] = field(default_factory=list)

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

    def stats(self) -> dict[str, Any]:
        raw = self.control.stats(self.page_id)
        requests_ = raw.pop("requests")
        t0 = requests_[0]["time"] if requests_ else 0.0
        # [seconds since the first call, folder, paged (has `after`), error code]
        raw["timeline"] = [
            [
                round(r["time"] - t0, 3),
                r["params"].get("folder"),
                "after" in r["params"],
                r["error_code"],
            ]
            for r in requests_
        ]
        raw["rate_limit_613"] = sum(1 for r in requests_ if r["error_code"] == 613)
        raw["throttled_any"] = sum(
            1 for r in requests_ if r["error_code"] in (4, 17, 32, 341, 613, 80001, 80006)
        )
        # `total` counts API calls (batch items each count, as Meta counts them against the
        # quota); a batch is one HTTP request.
        raw["http_requests"] = raw["total"] - raw["batch_items"] + raw["batch"]
        raw["quota_calls"] = raw["total"]
        raw["recent_log_complete"] = len(requests_) < 10_000
        return raw


@contextlib.contextmanager
def sandbox(
    conversations: int,
    *,
    latency_ms: float = 0,
    rate_limit: float | None = None,
    seed: int = 1,
    pages: int = 1,
    extra_args: Sequence[str] = (),
) -> Iterator[Sandbox]:
    """A sandbox process; `extra_args` are more `manage.py graph_sandbox` flags (e.g. the real
    Graph's switches: `--weight-budget 1300`, `--omit-empty-edges`)."""
    tmp = tempfile.mkdtemp(prefix="fbsync-sandbox-")
    cmd = [
        PYTHON,
        "-u",
        MANAGE,
        "graph_sandbox",
        "--skip-checks",
        "--port",
        "0",
        "--conversations",
        str(conversations),
        "--seed",
        str(seed),
        "--latency-ms",
        str(latency_ms),
        "--pages",
        str(pages),
    ]
    if rate_limit:
        cmd += ["--rate-limit", str(rate_limit)]
    cmd += [str(arg) for arg in extra_args]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/unused.sqlite3"}
    err = open(f"{tmp}/stderr.txt", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        info = None
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("{"):
                info = json.loads(line)
                break
        if info is None:
            code = proc.wait()
            tail = Path(f"{tmp}/stderr.txt").read_text(errors="replace")[-1500:]
            raise RuntimeError(f"graph_sandbox exited ({code}) without its JSON line:\n{tail}")
        page = info["pages"][0]
        yield Sandbox(
            proc,
            info["url"],
            page["id"],
            page["access_token"],
            SandboxControl(info["url"]),
            info["pages"],
        )
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.close()
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Measured:
    returncode: int
    wall_s: float
    cpu_s: float
    maxrss_mb: float  # wait4() rusage of this child only
    sampled_peak_rss_mb: float  # psutil, every 20 ms
    voluntary_switches: int  # waits (network, disk, sleeps)
    involuntary_switches: int  # preempted: high when other processes compete for the CPUs
    stdout: str
    stderr_tail: str


def run_measured(cmd: list[str], env: dict[str, str], workdir: Path) -> Measured:
    """Run one process; measure only it (wait4 gives this child's own rusage)."""
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            try:
                ps = psutil.Process(proc.pid)
                while not done.is_set():
                    peak[0] = max(peak[0], ps.memory_info().rss)
                    done.wait(0.02)
            except psutil.Error:
                pass

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = err_path.read_text(errors="replace")
    return Measured(
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        maxrss_mb=usage.ru_maxrss / 1024,
        sampled_peak_rss_mb=peak[0] / 2**20,
        voluntary_switches=usage.ru_nvcsw,
        involuntary_switches=usage.ru_nivcsw,
        stdout=out_path.read_text(errors="replace"),
        stderr_tail=stderr[-600:],
    )
