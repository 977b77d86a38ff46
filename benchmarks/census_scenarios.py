"""Scenario (h) of sync_benchmark.py, issue 12 item 1 (see benchmarks/README.md): what the
census (pages/sync/census.py) costs a first sync of a 10,000-conversation Page.

1. Call counts, side by side on one sandbox without latency or rate limit: a first sync with
   the census on (`SYNC_CENSUS_PAGE_SIZE` at its default) and one with it off (`=0`), each on a
   fresh database. Graph calls of each (quota calls, as Meta counts them), the census's calls
   (the difference, cross-checked against the `fields=id` calls in the sandbox's request log),
   census / without in %, wall time of each, and the rows stored against the sandbox's truth.
2. Time until the total is known under the real rate: the same Page on a sandbox with 100 ms
   latency and `--rate-limit 2`, our client at 2 calls/s, census on. The benchmark polls the
   Page's checkpoint and stops the sync (SIGTERM, as Ctrl-C) as soon as the census has handed
   over to the walk with its total: the rest of that run is the walk (1.) measures anyway, and a
   whole run at 2 calls/s takes ~3.5 min.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench_processes import MANAGE, PYTHON, ROOT, Sandbox, sandbox
from bench_workspace import Workspace
from weight_scenarios import expected_rows

REAL_RATE = 2.0  # Conversations API calls per second per Page, as in (b)
LATENCY_MS = 100  # as in (b)
TARGET_PERCENT = 10.0  # issue 12: the census costs at most 10 % extra Graph calls
CENSUS_OFF = {"SYNC_CENSUS_PAGE_SIZE": "0"}
POLL_SECONDS = 0.05


def is_census_call(request: dict[str, Any]) -> bool:
    """A census call in the sandbox's request log: a folder's ids (`fields=id`), or the ids of
    every folder in one call on the Page node (`...as(inbox){id},...`)."""
    fields = request["params"].get("fields", "")
    if request["kind"] == "conversations":
        return fields == "id"
    return request["kind"] == "page" and fields.endswith("{id}") and "messages" not in fields


def census_calls(sb: Sandbox) -> dict[str, Any]:
    """The census's calls in the last sync (the request log, not reset yet): how many, by
    `limit`, and their server-side span (first answered → last answered)."""
    calls = [r for r in sb.control.stats(sb.page_id)["requests"] if is_census_call(r)]
    limits: dict[str, int] = {}
    for r in calls:
        key = "one call (Page node)" if r["kind"] == "page" else str(r["params"].get("limit"))
        limits[key] = limits.get(key, 0) + 1
    return {
        "census_calls_logged": len(calls),
        "census_calls_by_limit": limits,
        "census_errors": sum(1 for r in calls if r["error_code"] is not None),
        "census_span_s": round(calls[-1]["time"] - calls[0]["time"], 3) if calls else None,
        # [seconds since the first census call, as the sandbox logged it; folder; error code]
        "census_timeline": [
            [round(r["time"] - calls[0]["time"], 3), r["params"].get("folder"), r["error_code"]]
            for r in calls
        ],
    }


def _aware(value: Any) -> datetime:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # SQLite keeps naive UTC


def checkpoint_of(ws: Workspace) -> dict[str, Any]:
    raw = ws.query("SELECT sync_checkpoint FROM pages_facebookpage")[0][0]
    return json.loads(raw) if isinstance(raw, str) else raw or {}


def total_known(ws: Workspace) -> dict[str, Any]:
    """When the run knew its total: the checkpoint's `walkStartedAt` (set when the census hands
    over to the walk) minus the run's `started_at`, both written by the sync itself."""
    cp = checkpoint_of(ws)
    started = ws.query("SELECT started_at FROM pages_syncrun ORDER BY id DESC LIMIT 1")[0][0]
    known = cp.get("total") is not None and not cp.get("totalIsEstimate")
    census_s = None
    if known and cp.get("walkStartedAt"):
        census_s = (_aware(cp["walkStartedAt"]) - _aware(started)).total_seconds()
    return {
        "total": cp.get("total") if known else None,
        "census_s": round(census_s, 3) if census_s is not None else None,
    }


def first_sync(ws: Workspace, label: str, expected: dict[str, int], profile: bool):
    out = ws.sync(label, profile=profile)
    out.update(census_calls(ws.sb))
    out.update(total_known(ws))
    out["db_rows"] = ws.counts()
    out["matches_truth"] = out["db_rows"] == expected
    return out


def until_total_known(ws: Workspace, timeout_s: float = 300) -> dict[str, Any]:
    """Start a first sync, stop it (SIGTERM) once its checkpoint has the census's total, and say
    how long that took: from launching `manage.py sync_page` (Django start-up included) to the
    total being in the database (polled every 50 ms), and by the sync's own timestamps."""
    ws.sb.control.reset_stats()
    cmd = [PYTHON, MANAGE, "sync_page", ws.sb.page_id, "--json", "--skip-checks"]
    out_path, err_path = ws.dir / "stdout.txt", ws.dir / "stderr.txt"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=ws.env, stdout=out, stderr=err)
        observed = None
        try:
            while observed is None and time.perf_counter() - started < timeout_s:
                if proc.poll() is not None:
                    break
                cp: dict[str, Any] = {}
                with contextlib.suppress(sqlite3.Error, IndexError):
                    cp = checkpoint_of(ws)
                if cp.get("phase") not in (None, "census") and cp.get("total") is not None:
                    observed = time.perf_counter() - started
                    break
                time.sleep(POLL_SECONDS)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # stops after the conversation in flight
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    if observed is None:
        tail = err_path.read_text(errors="replace")[-600:]
        raise RuntimeError(f"census total never appeared (exit {proc.returncode}):\n{tail}")
    stats = ws.sb.stats()
    out = {
        "launch_to_total_s": round(observed, 3),
        "rate_limit_613": stats["rate_limit_613"],
        "quota_calls_until_stopped": stats["quota_calls"],
        "stopped_run_status": ws.last_run()["status"],
    }
    out.update(census_calls(ws.sb))
    out.update(total_known(ws))
    return out


def scenario_h(n: int, profile: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"conversations": n, "target_percent": TARGET_PERCENT}
    # 1. Call counts: census on and off on the same Page, no latency, no rate limit.
    with sandbox(n) as sb:
        out["folder_sizes"] = dict(sb.control.truth(sb.page_id)["totals"])
        expected = expected_rows(sb)
        out["expected_rows"] = expected
        with Workspace(sb, calls_per_second=0) as ws:
            on = first_sync(ws, "h_census_on", expected, profile)
        with Workspace(sb, calls_per_second=0, env=CENSUS_OFF) as ws:
            off = first_sync(ws, "h_census_off", expected, profile)
    on_calls, off_calls = on["graph"]["quota_calls"], off["graph"]["quota_calls"]
    extra = on_calls - off_calls
    percent = round(100 * extra / off_calls, 1)
    out.update(
        on=on,
        off=off,
        census_calls=extra,
        census_percent=percent,
        met=percent <= TARGET_PERCENT and on["matches_truth"] and off["matches_truth"],
    )
    # 2. Time until the total is known under the real rate (census on, stopped after it).
    with (
        sandbox(n, latency_ms=LATENCY_MS, rate_limit=REAL_RATE) as sb,
        Workspace(sb, calls_per_second=REAL_RATE) as ws,
    ):
        out["real_rate"] = until_total_known(ws)
    out["real_rate"].update(rate=REAL_RATE, latency_ms=LATENCY_MS)
    return out


# -- report -----------------------------------------------------------------------------------


def census_rows(r: dict[str, Any], add: Callable[..., None], status: Callable[[bool], str]):
    s = f"(h) {r['conversations']} conv, first sync, census on / off"
    on, off, rate = r["on"], r["off"], r["real_rate"]
    add(
        s,
        "quota calls: census on / off (HTTP requests)",
        f"{on['graph']['quota_calls']} / {off['graph']['quota_calls']} "
        f"({on['graph']['http_requests']} / {off['graph']['http_requests']})",
    )
    add(
        s,
        "census calls (difference; fields=id calls logged)",
        f"{r['census_calls']} ({on['census_calls_logged']}: "
        + ", ".join(f"{n}×{k}" for k, n in on["census_calls_by_limit"].items())
        + ")",
    )
    add(
        s,
        "census / without",
        f"{r['census_percent']} %",
        f"<= {r['target_percent']:g} %: {status(r['met'])}",
    )
    add(
        s,
        "total known after (no rate limit)",
        f"{on['census_s']} s (total {on['total']}); off: {off['total'] or 'never'}",
    )
    add(
        s,
        "total known after, 100 ms + 2 calls/s",
        f"{rate['census_s']} s engine / {rate['launch_to_total_s']} s from launch "
        f"({rate['census_calls_logged']} calls, total {rate['total']}, 613s: "
        f"{rate['rate_limit_613']})",
    )
    add(
        s,
        "wall / conv/s: on / off",
        f"{on['wall_s']:.2f} s / {on['conv_per_s']}; {off['wall_s']:.2f} s / {off['conv_per_s']}",
    )
    for name, run in (("on", on), ("off", off)):
        rows = run["db_rows"]
        add(
            s,
            f"census {name}: stored conv / messages / events",
            f"{rows['conversations']} / {rows['messages']} / {rows['events']}",
            f"= truth: {status(run['matches_truth'])}",
        )


def census_table(r: dict[str, Any]) -> str:
    """The (h) rows, laid out as sync_report.table lays out the others."""
    rows: list[tuple[str, str, str, str]] = []
    census_rows(
        r,
        lambda s, m, v, t="": rows.append((s, m, str(v), t)),
        lambda ok: "MET" if ok else "MISSED",
    )
    header = ("scenario", "metric", "value", "target")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for i, row in enumerate(rows):
        shown = (row[0] if i == 0 else "", *row[1:])
        lines.append("  ".join(c.ljust(w) for c, w in zip(shown, widths, strict=True)).rstrip())
    return "\n".join(lines)
