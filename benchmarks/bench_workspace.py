"""A fresh database for one measurement (see benchmarks/README.md): SQLite in a temp dir or a
fresh PostgreSQL database, migrated, with the sandbox page connected; it runs and measures
`manage.py sync_page` and the naive baseline against it. Shared by sync_benchmark.py and
production_benchmark.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from bench_processes import MANAGE, PYTHON, RESULTS, ROOT, Sandbox, run_measured

PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


class Workspace:
    """A fresh database, migrated, with the sandbox page connected.

    SQLite (a file in a temp dir) by default; `postgres=True` creates a fresh PostgreSQL
    database `fbsync_bench_<random>` (dropped by close()). `env` adds environment variables
    (e.g. REDIS_URL) for every process run against it; `connect=False` leaves pages unconnected.
    """

    def __init__(
        self,
        sb: Sandbox,
        calls_per_second: float,
        *,
        postgres: bool = False,
        env: dict[str, str] | None = None,
        connect: bool = True,
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fbsync-bench-"))
        self.db = self.dir / "db.sqlite3"
        self.pg_name: str | None = None
        database_url = f"sqlite:///{self.db}"
        if postgres:
            self.pg_name = f"fbsync_bench_{os.getpid()}_{self.dir.name.rsplit('-', 1)[-1].lower()}"
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{self.pg_name}"')
            database_url = _pg_url(self.pg_name)
        self.database_url = database_url
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "FACEBOOK_GRAPH_URL": sb.url,
            "FACEBOOK_CALLS_PER_SECOND": str(calls_per_second),
            "PYTHONDONTWRITEBYTECODE": "1",
            **(env or {}),
        }
        self.sb = sb
        manage = [PYTHON, MANAGE]
        subprocess.run(
            [*manage, "migrate", "-v0", "--skip-checks"], cwd=ROOT, env=self.env, check=True
        )
        if connect:
            self.connect_page()

    def connect_page(self) -> None:
        sb = self.sb
        manage = [PYTHON, MANAGE]
        subprocess.run(
            [
                *manage,
                "connect_page",
                "--skip-checks",
                "--page-id",
                sb.page_id,
                "--access-token",
                "-",
            ],
            cwd=ROOT,
            env=self.env,
            check=True,
            input=sb.token + "\n",
            text=True,
            stdout=subprocess.DEVNULL,
        )

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.pg_name:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
            self.pg_name = None

    def query(self, sql: str) -> list[tuple]:
        """Read-only SQL on this workspace's database (SQLite or PostgreSQL)."""
        if self.pg_name:
            with psycopg.connect(self.database_url, autocommit=True) as db:
                return db.execute(sql).fetchall()
        with contextlib.closing(sqlite3.connect(self.db)) as db:
            return db.execute(sql).fetchall()

    def last_run(self) -> dict[str, Any]:
        row = self.query(
            "SELECT started_at, finished_at, graph_calls, mode, status FROM pages_syncrun "
            "ORDER BY id DESC LIMIT 1"
        )[0]
        started, finished = (
            (datetime.fromisoformat(v) if isinstance(v, str) else v) if v else None for v in row[:2]
        )
        engine = (finished - started).total_seconds() if started and finished else None
        return {"engine_s": engine, "client_calls": row[2], "mode": row[3], "status": row[4]}

    def counts(self) -> dict[str, int]:
        return {
            t: self.query(f"SELECT count(*) FROM {table}")[0][0]
            for t, table in (
                ("conversations", "conversations_conversation"),
                ("messages", "conversations_message"),
                ("events", "conversations_interactionevent"),
            )
        }

    def measure(self, cmd: list[str], label: str, profile: bool) -> dict[str, Any]:
        self.sb.control.reset_stats()
        sandbox_cpu = self.sb.cpu_seconds()
        prof_path = None
        if profile:
            RESULTS.mkdir(parents=True, exist_ok=True)
            prof_path = RESULTS / f"{label}.prof"
            cmd = [cmd[0], "-m", "cProfile", "-o", str(prof_path), *cmd[1:]]
        m = run_measured(cmd, self.env, self.dir)
        stats = self.sb.stats()
        if m.returncode != 0:
            raise RuntimeError(f"{label}: exit {m.returncode}\n{m.stdout[-600:]}\n{m.stderr_tail}")
        last_line = m.stdout.strip().splitlines()[-1]
        result = json.loads(last_line)
        return {
            "label": label,
            "wall_s": round(m.wall_s, 3),
            "cpu_s": round(m.cpu_s, 3),
            "sandbox_cpu_s": round(self.sb.cpu_seconds() - sandbox_cpu, 3),
            "peak_rss_mb": round(m.maxrss_mb, 1),
            "sampled_peak_rss_mb": round(m.sampled_peak_rss_mb, 1),
            "context_switches_voluntary_involuntary": [
                m.voluntary_switches,
                m.involuntary_switches,
            ],
            "result": result,
            "graph": stats,
            "profile": str(prof_path) if prof_path else None,
        }

    def sync(self, label: str, *, profile: bool = False, full: bool = False) -> dict[str, Any]:
        cmd = [PYTHON, MANAGE, "sync_page", self.sb.page_id, "--json", "--skip-checks"]
        if full:
            cmd.append("--full")
        out = self.measure(cmd, label, profile)
        out.update(self.last_run())
        out["conversations"] = out["result"]["current"]
        out["conv_per_s"] = round(out["conversations"] / out["wall_s"], 1)
        if out["engine_s"]:
            out["engine_conv_per_s"] = round(out["conversations"] / out["engine_s"], 1)
        if out["status"] != "complete":
            raise RuntimeError(f"{label}: run ended {out['status']}: {out['result']}")
        return out

    def naive(self, label: str, limit: int | None = None, profile: bool = False) -> dict[str, Any]:
        cmd = [PYTHON, str(ROOT / "benchmarks" / "naive_baseline.py"), self.sb.page_id]
        if limit:
            cmd += ["--limit", str(limit)]
        out = self.measure(cmd, label, profile)
        out["conversations"] = out["result"]["conversations"]
        out["conv_per_s"] = round(out["conversations"] / out["wall_s"], 1)
        return out
