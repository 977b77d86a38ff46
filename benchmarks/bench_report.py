"""Writing a benchmark's results as benchmarks/results/<name>.json, with the machine they ran
on. Shared by sync_benchmark.py and production_benchmark.py.
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench_processes import RESULTS


def write_report(name: str, results: dict, started: float, **flags: Any) -> tuple[Path, float]:
    """Save the results with the machine they ran on as results/<name>.json."""
    total_s = round(time.perf_counter() - started, 1)
    report = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        **flags,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "total_s": total_s,
        "scenarios": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    return out, total_s
