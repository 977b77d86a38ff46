"""The table production_benchmark.py prints."""

from __future__ import annotations

from typing import Any

from production_scenarios import DB_VARIANTS

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
