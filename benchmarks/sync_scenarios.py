"""The scenarios of sync_benchmark.py (see benchmarks/README.md): (a) raw engine speed,
(b) the real rate limit, (c) an incremental sync of an unchanged page, (d) the memory of a big
full sync; (a) and (b) also run the naive baseline.
"""

from __future__ import annotations

import math
from typing import Any

from bench_processes import Sandbox, sandbox
from bench_workspace import Workspace

PAGE_SIZE = 25  # SYNC_PAGE_SIZE default: conversations per list call
REAL_RATE = 2.0  # Conversations API calls per second per Page


# -- scenarios --------------------------------------------------------------------------------


def folder_sizes(sb: Sandbox) -> dict[str, int]:
    return dict(sb.control.truth(sb.page_id)["totals"])


def scenario_a(n: int, profile: bool) -> dict[str, Any]:
    with sandbox(n) as sb:
        with Workspace(sb, calls_per_second=0) as ws:
            ours = ws.sync("a_ours", profile=profile)
            ours["db_rows"] = ws.counts()
        with Workspace(sb, calls_per_second=0) as ws:
            naive = ws.naive("a_naive", profile=profile)
            naive["db_rows"] = ws.counts()
    return {
        "conversations": n,
        "ours": ours,
        "naive": naive,
        "speedup": round(ours["conv_per_s"] / naive["conv_per_s"], 1),
        "target": "ours >= 500 conversations/s",
        "met": ours["conv_per_s"] >= 500,
    }


def scenario_b(n: int, naive_sample: int, profile: bool) -> dict[str, Any]:
    with sandbox(n, latency_ms=100, rate_limit=REAL_RATE) as sb:
        sizes = folder_sizes(sb)
        with Workspace(sb, calls_per_second=REAL_RATE) as ws:
            ours = ws.sync("b_ours", profile=profile)
        with Workspace(sb, calls_per_second=REAL_RATE) as ws:
            naive = ws.naive("b_naive_sample", limit=naive_sample, profile=profile)
    ceiling = REAL_RATE * PAGE_SIZE
    calls = ours["graph"]["quota_calls"]
    rejected = ours["graph"]["throttled_any"]
    min_calls = math.ceil(n / PAGE_SIZE)
    # The naive sync needs one list call per 100 ids per folder, then one call per conversation.
    naive_calls_full = sum(math.ceil(s / 100) for s in sizes.values()) + n
    naive_sample_calls = naive["graph"]["quota_calls"]
    # Its calls are paced at REAL_RATE: time scales with calls (startup measured once).
    per_call = naive["wall_s"] / naive_sample_calls
    naive_extrapolated_s = per_call * naive_calls_full
    naive_extrapolated = {
        "conversations": n,
        "graph_calls": naive_calls_full,
        "wall_s": round(naive_extrapolated_s, 1),
        "conv_per_s": round(n / naive_extrapolated_s, 2),
        "note": (
            f"extrapolated from the {naive_sample}-conversation sample: "
            f"{naive['wall_s']:.1f} s for {naive_sample_calls} calls, scaled to "
            f"{naive_calls_full} calls"
        ),
    }
    return {
        "conversations": n,
        "folder_sizes": sizes,
        "ceiling_conv_per_s": ceiling,
        "ours": ours,
        "percent_of_ceiling": round(100 * ours["conv_per_s"] / ceiling, 1),
        "engine_percent_of_ceiling": round(100 * ours.get("engine_conv_per_s", 0) / ceiling, 1),
        "calls": calls,
        "min_calls": min_calls,
        "extra_calls": calls - rejected - min_calls,
        "rejected_calls": rejected,
        # If every call went out exactly every 1/rate s, the run could not take less than this.
        "call_floor_s": round((calls - 1) / REAL_RATE, 1),
        "rate_limit_613": ours["graph"]["rate_limit_613"],
        "naive_sample": naive,
        "naive_extrapolated": naive_extrapolated,
        "speedup": round(ours["conv_per_s"] / naive_extrapolated["conv_per_s"], 1),
        "target": ">= 90 % of the ceiling, no 613",
        "met": 100 * ours["conv_per_s"] / ceiling >= 90 and ours["graph"]["rate_limit_613"] == 0,
    }


def scenario_c(n: int, profile: bool) -> dict[str, Any]:
    with sandbox(n) as sb, Workspace(sb, calls_per_second=0) as ws:
        full = ws.sync("c_full", profile=profile)
        incremental = ws.sync("c_incremental", profile=profile)
    g = incremental["graph"]
    return {
        "conversations": n,
        "full": full,
        "incremental": incremental,
        "http_requests": g["http_requests"],
        "quota_calls": g["quota_calls"],
        "target": "<= 2 Graph calls",
        "met_http_requests": g["http_requests"] <= 2,
        "met_quota_calls": g["quota_calls"] <= 2,
    }


def scenario_d(n: int, profile: bool) -> dict[str, Any]:
    with sandbox(n) as sb, Workspace(sb, calls_per_second=0) as ws:
        ours = ws.sync("d_ours", profile=profile)
        ours["db_rows"] = ws.counts()
    return {
        "conversations": n,
        "ours": ours,
        "peak_rss_mb": ours["peak_rss_mb"],
        "target": "peak RSS < 200 MB",
        "met": ours["peak_rss_mb"] < 200,
    }
