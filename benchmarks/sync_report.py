"""The table sync_benchmark.py prints, and a cProfile summary."""

from __future__ import annotations

import io
import pstats
from collections.abc import Callable
from typing import Any

# -- report -----------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []

    def add(scenario: str, metric: str, value: Any, target: str = "") -> None:
        rows.append((scenario, metric, str(value), target))

    def status(ok: bool) -> str:
        return "MET" if ok else "MISSED"

    if "a" in results:
        r = results["a"]
        o, nv = r["ours"], r["naive"]
        s = f"(a) {r['conversations']} conv, no latency"
        add(
            s,
            "ours: wall / conv/s",
            f"{o['wall_s']:.2f} s / {o['conv_per_s']}",
            f">= 500 conv/s: {status(r['met'])}",
        )
        add(s, "ours: engine-only conv/s", o.get("engine_conv_per_s"))
        add(
            s,
            "ours: HTTP requests / quota calls",
            f"{o['graph']['http_requests']} / {o['graph']['quota_calls']}",
        )
        add(s, "ours: peak RSS (sampled)", f"{o['peak_rss_mb']} MB ({o['sampled_peak_rss_mb']})")
        add(s, "ours: CPU s (sync) / sandbox CPU s", f"{o['cpu_s']} / {o['sandbox_cpu_s']}")
        add(s, "naive: wall / conv/s", f"{nv['wall_s']:.2f} s / {nv['conv_per_s']}")
        add(s, "naive: HTTP requests", nv["graph"]["http_requests"])
        add(s, "naive: peak RSS", f"{nv['peak_rss_mb']} MB")
        add(s, "naive: CPU s / sandbox CPU s", f"{nv['cpu_s']} / {nv['sandbox_cpu_s']}")
        add(s, "ratio ours/naive (conv/s)", f"{r['speedup']}x")
    if "b" in results:
        r = results["b"]
        o, nv, ne = r["ours"], r["naive_sample"], r["naive_extrapolated"]
        s = f"(b) {r['conversations']} conv, 100 ms, 2/s"
        add(s, "ours: wall / conv/s", f"{o['wall_s']:.2f} s / {o['conv_per_s']}")
        add(
            s,
            "ours: % of ceiling (2/s x 25 = 50)",
            f"{r['percent_of_ceiling']} %",
            f">= 90 %: {status(r['met'])}",
        )
        add(
            s,
            "ours: engine-only conv/s / % ceiling",
            f"{o.get('engine_conv_per_s')} / {r['engine_percent_of_ceiling']} %",
        )
        add(
            s,
            "ours: calls = needed + extra + rejected",
            f"{r['calls']} = {r['min_calls']} + {r['extra_calls']} + {r['rejected_calls']}",
        )
        add(s, "ours: time floor from calls", f"{r['call_floor_s']} s")
        add(s, "ours: 613 errors seen by sandbox", r["rate_limit_613"], "0")
        add(s, "ours: peak RSS", f"{o['peak_rss_mb']} MB")
        add(
            s,
            f"naive sample ({nv['conversations']} conv): wall / conv/s",
            f"{nv['wall_s']:.2f} s / {nv['conv_per_s']}",
        )
        add(
            s,
            "naive sample: requests / 613s",
            f"{nv['graph']['http_requests']} / {nv['graph']['rate_limit_613']}",
        )
        add(
            s,
            "naive EXTRAPOLATED to full size",
            f"{ne['wall_s']} s / {ne['conv_per_s']} conv/s ({ne['graph_calls']} calls)",
        )
        add(s, "ratio ours/naive (extrapolated)", f"{r['speedup']}x")
    if "c" in results:
        r = results["c"]
        f, i = r["full"], r["incremental"]
        s = f"(c) {r['conversations']} conv, unchanged"
        add(s, "full sync first: wall / conv/s", f"{f['wall_s']:.2f} s / {f['conv_per_s']}")
        add(
            s,
            "incremental: HTTP requests",
            r["http_requests"],
            f"<= 2: {status(r['met_http_requests'])}",
        )
        add(
            s,
            "incremental: quota calls (batch items)",
            r["quota_calls"],
            f"<= 2: {status(r['met_quota_calls'])}",
        )
        add(
            s,
            "incremental: wall / conversations touched",
            f"{i['wall_s']:.2f} s / {i['conversations']}",
        )
    if "d" in results:
        r = results["d"]
        o = r["ours"]
        s = f"(d) {r['conversations']} conv, no latency"
        add(
            s,
            "peak RSS (wait4) / sampled",
            f"{o['peak_rss_mb']} / {o['sampled_peak_rss_mb']} MB",
            f"< 200 MB: {status(r['met'])}",
        )
        add(s, "wall / conv/s", f"{o['wall_s']:.2f} s / {o['conv_per_s']}")
    if "f" in results:
        weight_rows(results["f"], add, status)
    if "g" in results:
        empty_folder_rows(results["g"], add, status)
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("scenario", "metric", "value", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    previous = None
    for row in rows:
        shown = ("" if row[0] == previous else row[0], *row[1:])
        previous = row[0]
        lines.append("  ".join(c.ljust(w) for c, w in zip(shown, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _limits(by_limit: dict[str, int]) -> str:
    return ", ".join(f"{n}×{limit}" for limit, n in by_limit.items()) or "-"


def weight_rows(r: dict[str, Any], add: Callable[..., None], status: Callable[[bool], str]) -> None:
    for budget, b in r["budgets"].items():
        s = f"(f) {r['conversations']} conv, 100 ms, 2/s, weight budget {budget}"
        for name in ("fixed", "adaptive"):
            o = b[name]
            label = "fixed 25" if name == "fixed" else f"adaptive ≤ {r['adaptive_max_page_size']}"
            add(
                s,
                f"{label}: wall / conv/s (engine-only)",
                f"{o['wall_s']:.2f} s / {o['conv_per_s']} ({o.get('engine_conv_per_s')})",
            )
            add(
                s,
                f"{label}: quota calls / code 1 (of them tops)",
                f"{o['graph']['quota_calls']} / {o['code_1_calls']} ({o['tops_code_1_calls']})",
            )
            add(s, f"{label}: sizes used (summary)", o["sizes_used"])
            add(s, f"{label}: list calls accepted by limit", _limits(o["list_calls_by_limit"]))
            add(
                s, f"{label}: list calls code 1 by limit", _limits(o["refused_list_calls_by_limit"])
            )
            rows = o["db_rows"]
            add(
                s,
                f"{label}: stored conv / messages",
                f"{rows['conversations']} / {rows['messages']}",
                f"= truth: {status(o['matches_truth'])}",
            )
        add(s, "adaptive / fixed (conv/s)", f"{b['speedup']}x")
        add(s, "613 errors (both runs)", b["rate_limit_613"], "0")


def empty_folder_rows(
    r: dict[str, Any], add: Callable[..., None], status: Callable[[bool], str]
) -> None:
    s = f"(g) {r['conversations']} conv, unchanged, {'/'.join(r['empty_folders'])} empty"
    for key, v in r["variants"].items():
        if "full" in v:
            f = v["full"]
            add(
                s,
                f"{key}: full sync first: wall / conv/s",
                f"{f['wall_s']:.2f} s / {f['conv_per_s']}",
                f"= truth: {status(f['matches_truth'])}",
            )
        i = v["incremental"]
        target = f"<= 2: {status(i['met'])}" if "budget" not in key else "(diagnostic)"
        add(
            s,
            f"{key}: incremental HTTP requests / quota calls",
            f"{i['http_requests']} / {i['quota_calls']} (code 1: {i['code_1_calls']})",
            target,
        )
        add(
            s,
            f"{key}: incremental wall / conv touched",
            f"{i['wall_s']:.2f} s / {i['conversations_touched']}",
        )


def profile_summary(path: str, limit: int = 25) -> str:
    buffer = io.StringIO()
    pstats.Stats(path, stream=buffer).sort_stats("cumulative").print_stats(limit)
    return buffer.getvalue()
