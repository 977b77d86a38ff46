"""Webhook benchmark (issue 9, "Connect with Facebook and stay live"; see benchmarks/README.md).

    .venv/bin/python benchmarks/webhook_benchmark.py            # full sizes (~5 min)
    .venv/bin/python benchmarks/webhook_benchmark.py --quick    # smoke run (< 1 min)
    .venv/bin/python benchmarks/webhook_benchmark.py --only throughput --workers 2
    .venv/bin/python benchmarks/webhook_benchmark.py --only browser --browser-variants sqlite@0.1

Scenarios (each on a fresh database with the sandbox's Page connected and synced, daphne, one
`run_worker` unless --workers, the sandbox posting signed deliveries to daphne's
/webhooks/facebook/ with 16 in flight):
- throughput: N message deliveries at once (`send_webhooks`), on SQLite and on PostgreSQL.
  Accepted/s = N / (send -> the sandbox's sender has every answer, all 200); processed/s =
  N / (send -> the last WebhookDelivery's processed_at); each message stored exactly once, in
  the conversation the sandbox's truth has it in.
- browser: Chromium (headless) on a conversation's screen; 30 times the sandbox adds one
  message to it and sends its webhook: delay = the text in the DOM (a MutationObserver's
  Date.now()) - just before the control call (time.time(), same machine clock), with the
  stages from the rows the app wrote. Variants: with and without Redis, and how often the
  worker's webhook lane polls (`@S` sets WEBHOOK_POLL_SECONDS; default: the app's).

Writes benchmarks/results/webhooks.json (webhooks-quick.json with --quick; --out NAME) and
exits non-zero when a round fails (an error, a delivery not answered 200, a message not stored
exactly once, a browser error). A missed target is reported, not a failure. The stack and the
scenarios are in webhook_scenarios.py; this module holds the flags, the variants and the table.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench_processes import ROOT, sandbox
from bench_report import write_report
from webhook_scenarios import (
    SENDER_CONCURRENCY,
    browser_round,
    throughput_round,
    webhook_stack,
)


@dataclass(frozen=True)
class Variant:
    """`sqlite`, `postgres`, `sqlite+redis`, `postgres+redis`; `@S` sets how often the
    workers' webhook lane polls for deliveries (WEBHOOK_POLL_SECONDS; default: the app's)."""

    name: str
    postgres: bool
    redis: bool
    webhook_poll: float | None

    @classmethod
    def parse(cls, spec: str) -> Variant:
        base, _, interval = spec.strip().partition("@")
        database, _, extra = base.partition("+")
        if database not in ("sqlite", "postgres") or extra not in ("", "redis"):
            raise ValueError(f"unknown variant {spec!r} (sqlite|postgres[+redis][@SECONDS])")
        seconds = float(interval) if interval else None
        return cls(spec.strip(), database == "postgres", extra == "redis", seconds)


def run_variants(
    label: str, variants: list[Variant], run: Callable[[Variant], dict[str, Any]]
) -> list[dict[str, Any]]:
    rounds = []
    for variant in variants:
        print(f"  {label}: {variant.name} ...", flush=True)
        started = time.perf_counter()
        load = os.getloadavg()[0]
        try:
            result = run(variant)
        except Exception as exc:  # one failed round is reported; the others still run
            print(f"    FAILED: {type(exc).__name__}: {exc}", flush=True)
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            result["traceback"] = traceback.format_exc()
        result.update(
            variant=variant.name,
            round_s=round(time.perf_counter() - started, 1),
            loadavg_1min_before_after=[load, os.getloadavg()[0]],
        )
        rounds.append(result)
    return rounds


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    if "throughput" in results:
        t = results["throughput"]
        lines.append(
            f"(W1) throughput: {t['deliveries']} message deliveries, sender concurrency "
            f"{t['sender_concurrency']}, {t['workers']} worker(s), {t['conversations']} conv"
        )
        lines.append(
            "variant          answered s  accepted/s  processed s  processed/s  task ms (med/p95)"
            "  retried  failed  stored once  daphne CPU s  worker CPU s  ok"
        )
        for r in t["rounds"]:
            if "error" in r:
                lines.append(f"{r['variant']:<15}  FAILED: {r['error']}")
                continue
            s, st, task = r["sender"], r["stored"], r["task_ms"]
            stored = f"{st['stored_once_where_the_sandbox_has_it']} / {st['sent_messages']}"
            lines.append(
                f"{r['variant']:<15}  {r['answered_s']:>10.2f}  {r['accepted_per_s']:>10.1f}  "
                f"{r['processed_s']:>11.2f}  {r['processed_per_s']:>11.1f}  "
                f"{task['median']:>8.1f} / {task['p95']:<6.1f}  {s['retried']:>7}  "
                f"{s['failed']:>6}  {stored:>11}  {r['cpu_s']['daphne']:>12.1f}  "
                f"{r['cpu_s']['workers']:>12.1f}  {'yes' if r['ok'] else 'NO'}"
            )
        lines.append("")
    if "browser" in results:
        b = results["browser"]
        lines.append(
            "(W2) browser: the sandbox adds a message (control call) -> its text in an open "
            "conversation screen; stage medians in ms"
        )
        lines.append(
            "variant              webhook poll s  samples  median ms  p95 ms  max ms  "
            "| received  queued  processing  to screen  | p95 < 1 s"
        )
        for r in b["rounds"]:
            if "error" in r:
                lines.append(f"{r['variant']:<20}  FAILED: {r['error']}")
                continue
            m = r["stage_ms_median"]
            lines.append(
                f"{r['variant']:<20}  {r['webhook_poll_s']!s:>14}  {r['samples']:>7}  "
                f"{r['delay_ms_median']:>9.1f}  {r['delay_ms_p95']:>6.1f}  "
                f"{r['delay_ms_min_max'][1]:>6.1f}  | {m['received_ms']:>8.1f}  "
                f"{m['queued_ms']:>6.1f}  "
                f"{m['processing_ms']:>10.1f}  {m['to_screen_ms']:>9.1f}  | "
                f"{'MET' if r['met'] else 'MISSED'}{'' if r['ok'] else ' (errors: see JSON)'}"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", default="throughput,browser", help="throughput,browser")
    parser.add_argument("--deliveries", type=int, default=None, help="throughput (2,000)")
    parser.add_argument("--samples", type=int, default=None, help="browser (30)")
    parser.add_argument("--conversations", type=int, default=200, help="the synced Page's")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--throughput-variants", default="sqlite,postgres")
    parser.add_argument(
        "--browser-variants",
        default=None,
        help="default: sqlite,postgres,postgres+redis,postgres+redis@0.1 "
        "(--quick: sqlite,postgres+redis); @S = the worker's poll interval in s",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_WEBHOOK_REDIS_URL", "redis://127.0.0.1:6379/7"),
    )
    parser.add_argument("--out", default="", help="results/<OUT>.json instead of the default")
    args = parser.parse_args()
    quick = args.quick
    only = set(args.only.split(","))
    deliveries = args.deliveries or (200 if quick else 2000)
    samples = args.samples or (5 if quick else 30)
    browser_specs = args.browser_variants or (
        "sqlite,postgres+redis" if quick else "sqlite,postgres,postgres+redis,postgres+redis@0.1"
    )
    if not only or only - {"throughput", "browser"}:
        parser.error("--only takes throughput, browser or both")
    try:
        throughput_variants = [Variant.parse(v) for v in args.throughput_variants.split(",")]
        browser_variants = [Variant.parse(v) for v in browser_specs.split(",")]
    except ValueError as exc:
        parser.error(str(exc))
    results: dict[str, Any] = {}
    started = time.perf_counter()
    secret = secrets.token_hex(16)  # the app's FACEBOOK_APP_SECRET and the sandbox's
    with sandbox(args.conversations, seed=17, extra_args=["--app-secret", secret]) as sb:
        app = sb.control.app_credentials()

        def stack(variant: Variant):
            return webhook_stack(
                sb,
                postgres=variant.postgres,
                redis_url=args.redis_url if variant.redis else None,
                webhook_poll=variant.webhook_poll,
                workers=args.workers,
                app=app,
            )

        def throughput(variant: Variant) -> dict[str, Any]:
            with stack(variant) as s:
                return throughput_round(s, deliveries)

        def browser(variant: Variant) -> dict[str, Any]:
            with stack(variant) as s:
                return browser_round(s, samples)

        if "throughput" in only:
            print("running throughput ...", flush=True)
            results["throughput"] = {
                "deliveries": deliveries,
                "conversations": args.conversations,
                "workers": args.workers,
                "sender_concurrency": SENDER_CONCURRENCY,
                "rounds": run_variants("throughput", throughput_variants, throughput),
            }
        if "browser" in only:
            print("running browser ...", flush=True)
            results["browser"] = {
                "samples": samples,
                "conversations": args.conversations,
                "workers": args.workers,
                "redis_url": args.redis_url,
                "target": "p95 < 1 s",
                "rounds": run_variants("browser", browser_variants, browser),
            }
    name = args.out or ("webhooks-quick" if quick else "webhooks")
    out, total_s = write_report(name, results, started, quick=quick)
    print(table(results))
    print(f"\nJSON: {out.relative_to(ROOT)}   ({total_s} s in all)")
    failed = [r["variant"] for v in results.values() for r in v["rounds"] if not r.get("ok")]
    if failed:
        print(f"FAILED rounds: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # every process and database is cleaned up on the way out
        sys.exit(130)
    except RuntimeError as exc:  # the sandbox did not start, say
        print(f"webhook benchmark failed: {exc}", file=sys.stderr)
        sys.exit(1)
