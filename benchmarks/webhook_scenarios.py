"""The scenarios of webhook_benchmark.py (see benchmarks/README.md, "Webhooks"): the stack
they run on (the sandbox posting signed webhooks to daphne, `run_worker` processing them, a
fresh database with a synced Page), (W1) throughput and (W2) the delay until a browser shows a
message.
"""

from __future__ import annotations

import contextlib
import json
import random
import secrets
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis
import requests
from bench_processes import MANAGE, PYTHON, ROOT, Sandbox
from bench_workspace import Workspace
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright
from production_common import ops, percentile, wait_for
from production_live import free_port

SENDER_CONCURRENCY = 16
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
# Records, in the browser, when `text` first shows inside `selector` (Date.now(): the same
# machine's wall clock as the benchmark's time.time()). The previous sample's observer is
# disconnected first: its text is on the screen, so it would fire at the next mutation.
WATCH_FOR_TEXT = """([selector, text]) => {
  if (window.__watch) window.__watch.disconnect();
  window.__seenAt = null;
  const look = () => {
    const element = document.querySelector(selector);
    if (element && element.textContent.includes(text)) {
      window.__seenAt = Date.now();
      window.__watch.disconnect();
    }
  };
  window.__watch = new MutationObserver(look);
  window.__watch.observe(document.body, { subtree: true, childList: true, characterData: true });
  look();
}"""
DELIVERY_TASK = "webhooks.tasks.process_delivery_task"
DAPHNE = str(Path(PYTHON).with_name("daphne"))
ASGI_APP = "fbsync.asgi:application"


@dataclass
class Stack:
    sb: Sandbox
    ws: Workspace
    url: str  # daphne's
    daphne: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)
    webhook_poll_s: float | None = None  # as the workers read it

    def rows(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        """SQL with `?` placeholders on the stack's database (SQLite or PostgreSQL)."""
        if self.ws.pg_name:
            with psycopg.connect(self.ws.database_url, autocommit=True) as db:
                return db.execute(sql.replace("?", "%s"), params).fetchall()
        with contextlib.closing(sqlite3.connect(self.ws.db, timeout=30)) as db:
            return db.execute(sql, params).fetchall()

    def count(self, table: str) -> int:
        return self.rows(f"SELECT count(*) FROM {table}")[0][0]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time so far of daphne and of the workers (context for the rates)."""
        times = {"daphne": [self.daphne], "workers": self.workers}
        return {
            k: sum(sum(psutil.Process(p.pid).cpu_times()[:2]) for p in v) for k, v in times.items()
        }


def epoch(value: Any) -> float | None:
    """A stored datetime as epoch seconds (SQLite gives naive UTC text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=value.tzinfo or UTC).timestamp() if value else None


def spawn(ws: Workspace, name: str, command: list[str]) -> subprocess.Popen:
    """A process of the stack, its output in the workspace's `<name>.log`."""
    with open(ws.dir / f"{name}.log", "w") as log:
        return subprocess.Popen(command, cwd=ROOT, env=ws.env, stdout=log, stderr=subprocess.STDOUT)


def app_setting(ws: Workspace, name: str) -> Any:
    """A (non-secret) setting as the stack's processes read it from their environment."""
    code = f"import json; from django.conf import settings; print(json.dumps(settings.{name}))"
    out = subprocess.run(
        [PYTHON, MANAGE, "shell", "-c", code], cwd=ROOT, env=ws.env, capture_output=True, text=True
    )
    # The last line: Django's shell may print a banner about its automatic imports first.
    return json.loads(out.stdout.splitlines()[-1]) if out.returncode == 0 else None


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def webhook_stack(
    sb: Sandbox,
    *,
    postgres: bool,
    redis_url: str | None,
    webhook_poll: float | None,
    workers: int,
    app: dict[str, str],
) -> Iterator[Stack]:
    """A fresh database (with Redis when `redis_url`) with the sandbox's Page connected and
    synced, daphne, `workers` workers (which subscribe the Page), and the sandbox posting to
    daphne's callback."""
    if redis_url:
        redis.Redis.from_url(redis_url, socket_timeout=2).ping()  # not silently without it
    verify = secrets.token_hex(8)
    env = {
        "FACEBOOK_APP_ID": app["app_id"],
        "FACEBOOK_APP_SECRET": app["app_secret"],
        "FACEBOOK_WEBHOOK_VERIFY_TOKEN": verify,
        "PYTHONUNBUFFERED": "1",
        **({"REDIS_URL": redis_url} if redis_url else {}),
        **({"WEBHOOK_POLL_SECONDS": str(webhook_poll)} if webhook_poll is not None else {}),
    }
    ws = Workspace(sb, 0, postgres=postgres, env=env)
    daphne = None
    stack = None
    try:
        ws.sync("webhooks_first_sync")
        port = free_port()
        daphne = spawn(ws, "daphne", [DAPHNE, "-b", "127.0.0.1", "-p", str(port), ASGI_APP])
        stack = Stack(sb, ws, f"http://127.0.0.1:{port}", daphne)
        stack.webhook_poll_s = app_setting(ws, "WEBHOOK_POLL_SECONDS")
        handshake = f"{stack.url}/webhooks/facebook/?hub.mode=subscribe&hub.challenge=up"

        def daphne_up() -> bool:
            with contextlib.suppress(requests.RequestException):
                answer = requests.get(f"{handshake}&hub.verify_token={verify}", timeout=2)
                return answer.text == "up"
            return False

        wait_for(daphne_up, 60, "daphne", every=0.1)
        for n in range(workers):
            command = [PYTHON, MANAGE, "run_worker", "--skip-checks", "--no-startup-delay"]
            stack.workers.append(
                spawn(ws, f"worker-{n}", [*command, "--worker-id", f"bench-webhooks-{n}"])
            )
        logs = [ws.dir / f"worker-{n}.log" for n in range(workers)]
        wait_for(lambda: all("Starting worker" in p.read_text() for p in logs), 60, "workers")
        # The workers' housekeeping checks the Page's subscription at once (webhooks.upkeep).
        wait_for(
            lambda: (
                "messages" in (sb.control.subscriptions().get(sb.page_id) or [])
                and stack.rows("SELECT webhook_checked_at FROM pages_facebookpage")[0][0]
            ),
            60,
            "the workers to subscribe the Page",
        )
        sb.control.configure_webhooks(
            f"{stack.url}/webhooks/facebook/",
            concurrency=SENDER_CONCURRENCY,
            retries=3,
            retry_delay_seconds=0.5,
            timeout_seconds=5.0,
        )
        yield stack
    finally:
        with contextlib.suppress(Exception):
            sb.control.configure_webhooks(None)
        for proc in [*(stack.workers if stack else []), *([daphne] if daphne else [])]:
            stop(proc)
        ws.close()


def delivery_counts(stack: Stack) -> dict[str, int]:
    return dict(stack.rows("SELECT status, count(*) FROM webhooks_webhookdelivery GROUP BY status"))


def ms_stats(values: list[float]) -> dict[str, float]:
    """Median, p95, max of values in seconds, in ms."""
    return {
        "median": round(statistics.median(values) * 1000, 1),
        "p95": round(percentile(values, 95) * 1000, 1),
        "max": round(max(values) * 1000, 1),
    }


# -- (1) throughput -----------------------------------------------------------------------------


def throughput_round(stack: Stack, n: int) -> dict[str, Any]:
    """`n` message deliveries sent at once: when the sender has every answer, when the last is
    processed, and whether each message is stored exactly once where the sandbox has it."""
    sb = stack.sb
    messages_before = stack.count("conversations_message")
    log_start = len(sb.control.webhook_log())
    cpu0 = stack.cpu_seconds()
    t0 = time.time()
    sent = sb.control.send_webhooks(sb.page_id, "message", n=n)
    while not sb.control.wait_for_webhooks(20):  # the control client times out at 30 s
        if time.time() - t0 > max(120, n / 5):
            raise RuntimeError("the sandbox was still sending at the timeout")
    answered_s = time.time() - t0
    log = sb.control.webhook_log(since=log_start)

    def settled() -> bool:  # every delivery stored and no longer waiting for its task
        counts = delivery_counts(stack)
        return sum(counts.values()) >= n and not counts.get("received")

    wait_for(settled, max(300, n / 2), "every delivery processed", every=0.1)
    cpu1 = stack.cpu_seconds()
    statuses = delivery_counts(stack)
    deliveries = stack.rows("SELECT received_at, processed_at FROM webhooks_webhookdelivery")
    received = sorted(epoch(r) for r, _ in deliveries)
    processed_s = max(epoch(p) or 0 for _, p in deliveries) - t0
    tasks = stack.rows(
        "SELECT enqueued_at, started_at, finished_at FROM django_tasks_database_dbtaskresult "
        "WHERE task_path = ?",
        (DELIVERY_TASK,),
    )
    starts = sorted(epoch(s) for _, s, _ in tasks if s)
    check = check_stored(stack, sent["events"], messages_before)
    answered_200 = all(d["delivered"] and d["status"] == 200 for d in log) and len(log) == n
    return {
        "deliveries": n,
        "webhook_poll_s": stack.webhook_poll_s,
        "answered_s": round(answered_s, 2),
        "accepted_per_s": round(n / answered_s, 1),
        "received_span_s": round(received[-1] - received[0], 2),  # first to last row stored
        "processed_s": round(processed_s, 2),
        "processed_per_s": round(n / processed_s, 1),
        "delivery_statuses": statuses,
        "task_ms": ms_stats([epoch(f) - epoch(s) for _, s, f in tasks if s and f]),
        "task_queue_wait_ms": ms_stats([epoch(s) - epoch(e) for e, s, _ in tasks if s]),
        # A worker's webhook lane takes tasks one after another: with one worker, the gap
        # between two starts is what a delivery costs it (claim, task, bookkeeping).
        "task_start_gap_ms": ms_stats([b - a for a, b in zip(starts, starts[1:], strict=False)]),
        "sender": {
            "deliveries": len(log),
            "answer_statuses": sorted({str(d["status"]) for d in log}),
            "retried": sum(1 for d in log if d["attempts"] > 1),
            "failed": sum(1 for d in log if not d["delivered"]),
        },
        "cpu_s": {k: round(cpu1[k] - cpu0[k], 2) for k in cpu0},
        "stored": check,
        "ok": check["ok"] and answered_200 and statuses == {"processed": n},
    }


def check_stored(stack: Stack, events: list[dict], messages_before: int) -> dict[str, Any]:
    """Each sent message stored exactly once, in the conversation the sandbox's truth has it
    in, with its interaction event; and no other message row added."""
    sent = {e["mid"]: e["conversation_id"] for e in events}
    mids = list(sent)
    stored: dict[str, list[str]] = {}
    events_stored = 0
    for i in range(0, len(mids), 500):
        chunk = mids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for mid, conversation in stack.rows(
            "SELECT m.facebook_id, c.facebook_id FROM conversations_message m "
            "JOIN conversations_conversation c ON c.id = m.conversation_id "
            f"WHERE m.facebook_id IN ({marks})",
            chunk,
        ):
            stored.setdefault(mid, []).append(conversation)
        events_stored += stack.rows(
            f"SELECT count(*) FROM conversations_interactionevent WHERE source_id IN ({marks})",
            chunk,
        )[0][0]
    truth = stack.sb.control.truth(stack.sb.page_id)
    truth_of = {m: c["id"] for c in truth["conversations"] for m in c["message_ids"]}
    n = len(sent)
    result = {
        "sent_messages": n,
        "stored_once_where_the_sandbox_has_it": sum(
            1 for mid, convs in stored.items() if convs == [sent[mid]] == [truth_of.get(mid)]
        ),
        "missing": n - len(stored),
        "stored_more_than_once": sum(1 for convs in stored.values() if len(convs) > 1),
        "interaction_events": events_stored,
        "new_message_rows": stack.count("conversations_message") - messages_before,
    }
    checks = ("stored_once_where_the_sandbox_has_it", "interaction_events", "new_message_rows")
    result["ok"] = all(result[k] == n for k in checks)
    return result


# -- (2) browser delay --------------------------------------------------------------------------


def browser_round(stack: Stack, samples: int, seed: int = 7) -> dict[str, Any]:
    """Chromium on a conversation's screen; `samples` times, the sandbox adds a message to that
    conversation (and posts its webhook): the time until its text is in the DOM."""
    sb = stack.sb
    cookie = ops(stack.ws, "staff-cookie")
    pk, conversation_id = stack.rows(
        "SELECT id, facebook_id FROM conversations_conversation WHERE folder = 'inbox' "
        "ORDER BY updated_time DESC, id LIMIT 1"
    )[0]
    errors: list[str] = []
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_cookies(
                [{"name": k, "value": v, "url": stack.url} for k, v in cookie.items()]
            )
            page = context.new_page()
            watch_errors(page, stack.url, errors)
            page.goto(f"{stack.url}/conversations/{pk}/")
            page.wait_for_selector("[data-live-state=open]", timeout=15_000)
            for i in range(samples):
                # A random pause: each message lands at a random point of the worker's poll.
                time.sleep(rng.uniform(0.3, 1.3))
                # No text may hold another's (a "message 1" would match "message 10").
                text = f"Webhook benchmark message {i}: {secrets.token_hex(6)}"
                page.evaluate(WATCH_FOR_TEXT, ["ol.thread", text])
                t_call = time.time()
                sb.control.send_webhooks(
                    sb.page_id, "message", conversation_id=conversation_id, text=text
                )
                try:
                    page.wait_for_function("() => window.__seenAt !== null", timeout=15_000)
                except PlaywrightTimeout:
                    raise RuntimeError(
                        f"message {i} not on the screen after 15 s; deliveries by status: "
                        f"{delivery_counts(stack)}; browser errors: {errors}"
                    ) from None
                seen = page.evaluate("() => window.__seenAt") / 1000
                rows.append(stages(stack, t_call, seen, text))
            context.close()
        finally:
            browser.close()
    delays = [r["shown_ms"] for r in rows]
    return {
        "samples": len(delays),
        "webhook_poll_s": stack.webhook_poll_s,
        "conversation_pk": pk,
        "delay_ms_median": round(statistics.median(delays), 1),
        "delay_ms_p95": round(percentile(delays, 95), 1),
        "delay_ms_min_max": [min(delays), max(delays)],
        **{
            f"stage_ms_{name}": {
                k: round(summary(r[k] for r in rows), 1)
                for k in ("received_ms", "queued_ms", "processing_ms", "to_screen_ms")
            }
            for name, summary in (("median", statistics.median), ("max", max))
        },
        "browser_errors": errors,
        "per_sample": rows,
        "met": percentile(delays, 95) < 1000,
        "ok": not errors and all(r["stored"] for r in rows),
    }


def watch_errors(page: Any, origin: str, errors: list[str]) -> None:
    """Console errors, uncaught exceptions and failed requests of our own server, as
    tests/e2e/helpers.py counts them (a navigation aborting the stream is the browser's doing).
    The sandbox's messages show pictures from Facebook's CDN, which this machine cannot reach:
    those failures are not ours."""

    def ours(url: str, problem: str | None) -> None:
        if url.startswith(origin) and problem:
            errors.append(f"{problem}: {url}")

    page.on("console", lambda m: ours(m.location.get("url", ""), m.type == "error" and m.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda r: ours(r.url, r.status >= 400 and str(r.status)))
    page.on("requestfailed", lambda r: ours(r.url, r.failure != "net::ERR_ABORTED" and r.failure))


def stages(stack: Stack, t_call: float, seen: float, text: str) -> dict[str, Any]:
    """Where one sample's time went, from the rows the app wrote (the same machine's clock):
    received (control call, sender, POST, row stored), queued (until the worker took the
    task: its poll interval), processing (the task until its commit), to screen (publish,
    SSE, the screen's fetch and morph)."""
    received, processed = stack.rows(
        "SELECT received_at, processed_at FROM webhooks_webhookdelivery ORDER BY id DESC LIMIT 1"
    )[0]
    started = stack.rows(
        "SELECT started_at FROM django_tasks_database_dbtaskresult "
        "WHERE task_path = ? ORDER BY enqueued_at DESC LIMIT 1",
        (DELIVERY_TASK,),
    )[0][0]
    stored = stack.rows("SELECT count(*) FROM conversations_message WHERE text = ?", (text,))
    points = [t_call, epoch(received), epoch(started), epoch(processed), seen]
    if None in points or sorted(points) != points:
        raise RuntimeError(f"a sample's times are out of order: {points}")
    steps = [round((b - a) * 1000, 1) for a, b in zip(points, points[1:], strict=False)]
    names = ("received_ms", "queued_ms", "processing_ms", "to_screen_ms")
    return {
        "shown_ms": round((seen - t_call) * 1000, 1),
        **dict(zip(names, steps, strict=True)),
        "stored": stored[0][0] == 1,
    }
