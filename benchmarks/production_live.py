"""The live scenario of production_benchmark.py (see benchmarks/README.md): daphne and 50 SSE
clients on one Page's stream while `sync_page` runs in another process; the delay from the
commit of each progress event to its arrival at each client.
"""

from __future__ import annotations

import html
import json
import re
import socket
import statistics
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import requests
from bench_processes import MANAGE, PYTHON, ROOT, Sandbox, run_measured, sandbox
from bench_workspace import Workspace
from production_common import RATE, REDIS_URL, ops, percentile, wait_for

# -- (3) live delivery latency ------------------------------------------------------------------

CHECKPOINT_RE = re.compile(
    r'<section id="sync-checkpoint"[^>]*>.*?<pre class="checkpoint">(.*?)</pre>', re.S
)


class SseClient:
    """One browser-like SSE reader: records (arrival time.time(), data) per `progress` event.

    Parsing is left for after the run so the 50 reader threads do little more than wait on
    their sockets (they share this process' GIL)."""

    def __init__(self, url: str, cookies: dict[str, str]) -> None:
        self.events: list[tuple[float, str]] = []
        self.response = requests.get(url, cookies=cookies, stream=True, timeout=(10, 120))
        self.response.raise_for_status()
        self.transfer_encoding = self.response.headers.get("Transfer-Encoding")
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buffer = ""
        try:
            # chunk_size=None: each HTTP chunk as it arrives (no waiting to fill a buffer).
            for chunk in self.response.iter_content(chunk_size=None, decode_unicode=False):
                now = time.time()
                buffer += chunk.decode("utf-8")
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    if "event: stream-open" in block:
                        self.opened.set()
                    if "event: progress" in block:
                        self.events.append((now, block))
        except (requests.RequestException, AttributeError, ValueError):
            pass  # closed by us

    def close(self) -> None:
        self.response.close()


def event_checkpoint(block: str) -> dict | None:
    data = "\n".join(line[6:] for line in block.split("\n") if line.startswith("data: "))
    match = CHECKPOINT_RE.search(data)
    return json.loads(html.unescape(match.group(1))) if match else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def live_round(sb: Sandbox, variant: str, clients: int) -> dict[str, Any]:
    postgres = variant != "sqlite"
    env = {"REDIS_URL": REDIS_URL} if "redis" in variant else {}
    ws = Workspace(sb, RATE, postgres=postgres, env=env)
    daphne = None
    readers: list[SseClient] = []
    try:
        cookie = ops(ws, "staff-cookie")
        page_pk = ws.query("SELECT id FROM pages_facebookpage")[0][0]
        port = free_port()
        daphne = subprocess.Popen(
            [str(Path(PYTHON).with_name("daphne")), "-b", "127.0.0.1", "-p", str(port)]
            + ["fbsync.asgi:application"],
            cwd=ROOT,
            env=ws.env,
            stdout=subprocess.DEVNULL,
            stderr=open(ws.dir / "daphne.log", "w"),  # noqa: SIM115
        )
        url = f"http://127.0.0.1:{port}/pages/{page_pk}/events/"

        def daphne_up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_for(daphne_up, 30, "daphne", every=0.05)
        readers = [SseClient(url, cookie) for _ in range(clients)]
        for r in readers:
            if not r.opened.wait(30):
                raise RuntimeError("an SSE stream did not open")
        time.sleep(1.0)  # let daphne's background loop settle
        daphne_cpu0 = psutil.Process(daphne.pid).cpu_times()
        sb.control.reset_stats()
        cmd = [PYTHON, MANAGE, "sync_page", sb.page_id, "--json", "--skip-checks"]
        sync = run_measured(cmd, ws.env, ws.dir)
        sync_end = time.time()
        if sync.returncode:
            raise RuntimeError(f"sync failed: {sync.stderr_tail}")
        result = json.loads(sync.stdout.strip().splitlines()[-1])

        def all_final() -> bool:
            return all(
                any('data-status="complete"' in block for _, block in r.events) for r in readers
            )

        try:
            wait_for(all_final, 20, "the final event at every client", every=0.1)
            missing_final = 0
        except RuntimeError:
            missing_final = sum(
                not any('data-status="complete"' in b for _, b in r.events) for r in readers
            )
        t = psutil.Process(daphne.pid).cpu_times()
        daphne_cpu = (t.user + t.system) - (daphne_cpu0.user + daphne_cpu0.system)
        published = ws.query(
            f"SELECT count(*) FROM django_eventstream_event WHERE channel = 'page-{page_pk}'"
        )[0][0]
        encodings = {r.transfer_encoding for r in readers}
    finally:
        # Stop daphne first: closing a streamed response while its reader thread is blocked
        # in a read waits for the next bytes (up to the 20 s keep-alive), per client.
        if daphne:
            daphne.terminate()
            try:
                daphne.wait(10)
            except subprocess.TimeoutExpired:
                daphne.kill()
                daphne.wait()
        for r in readers:
            r.close()
        ws.close()

    delays: list[float] = []
    per_client_events: list[int] = []
    unparsed = 0
    unparsed_samples: list[str] = []
    currents: set[int] = set()
    for r in readers:
        per_client_events.append(len(r.events))
        for arrival, block in r.events:
            cp = event_checkpoint(block)
            if not cp or not cp.get("timestamp"):
                unparsed += 1
                unparsed_samples.append(block[:300])
                continue
            committed = datetime.fromisoformat(cp["timestamp"]).timestamp()
            delays.append(arrival - committed)
            currents.add(cp.get("current", -1))
    delays_ms = [d * 1000 for d in delays]
    return {
        "variant": variant,
        "clients": clients,
        "sync_wall_s": round(sync.wall_s, 2),
        "sync_cpu_s": round(sync.cpu_s, 2),
        "conversations": result["current"],
        "events_published": published,
        "distinct_checkpoints_received": len(currents),
        "events_per_client_min_max": [min(per_client_events), max(per_client_events)],
        "samples": len(delays_ms),
        "unparsed_events": unparsed,
        "unparsed_sample": unparsed_samples[:1],
        "clients_missing_final": missing_final,
        "delay_ms_median": round(statistics.median(delays_ms), 1),
        "delay_ms_p95": round(percentile(delays_ms, 95), 1),
        "delay_ms_p99": round(percentile(delays_ms, 99), 1),
        "delay_ms_max": round(max(delays_ms), 1),
        "delay_ms_min": round(min(delays_ms), 1),
        "daphne_cpu_s": round(daphne_cpu, 2),
        "transfer_encoding": sorted(str(e) for e in encodings),
        "seconds_after_sync_exit": round(time.time() - sync_end, 1),
        "met": percentile(delays_ms, 95) < 1000,
    }


def scenario_live(n: int, clients: int, variants: list[str], latency_ms: float) -> dict:
    rounds = []
    with sandbox(n, latency_ms=latency_ms, rate_limit=RATE, seed=13) as sb:
        for variant in variants:
            print(f"  live: {variant} ...", flush=True)
            rounds.append(live_round(sb, variant, clients))
    return {
        "conversations": n,
        "latency_ms": latency_ms,
        "rate_limit_per_page": RATE,
        "rounds": rounds,
        "target": "p95 < 1 s",
    }
