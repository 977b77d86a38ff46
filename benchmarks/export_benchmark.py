"""Export benchmark (issue 10): `manage.py export_page` over 10,000 and 100,000 messages, both
formats, SQLite and PostgreSQL; peak RSS (wait4, this child only) and rows/s. Flat memory means
the peak at 100,000 is close to the peak at 10,000.

    .venv/bin/python benchmarks/export_benchmark.py            # 10k and 100k, both databases
    .venv/bin/python benchmarks/export_benchmark.py --sizes 1000 --no-postgres   # a smoke run

Each size gets a fresh database (SQLite file in a temp dir, or a fresh PostgreSQL database),
migrated and filled with bulk_create (`--seed`, run in a subprocess before the clock starts):
one message per conversation in ten, an event per message.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from bench_processes import MANAGE, PYTHON, ROOT, run_measured

PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PAGE_ID = "10000000000000001"
MESSAGES_PER_CONVERSATION = 10


def seed(messages: int) -> None:
    """In a subprocess with DATABASE_URL set: one Page with `messages` messages."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fbsync.settings")
    import django  # noqa: PLC0415  (Django starts only in the seeding subprocess)

    django.setup()
    from conversations.models import Contact, Conversation, InteractionEvent, Message  # noqa: PLC0415
    from pages.models import FacebookPage  # noqa: PLC0415

    page = FacebookPage.objects.create(facebook_id=PAGE_ID, name='Bench, "export" 🚲')
    start = datetime(2025, 1, 1, tzinfo=UTC)
    batch = 5000
    for first in range(0, messages, batch):
        count = min(batch, messages - first)
        numbers = range(first // MESSAGES_PER_CONVERSATION, (first + count - 1) // 10 + 1)
        contacts = Contact.objects.bulk_create(
            [Contact(page=page, psid=f"p{n}", name=f'Person {n}, "x"\nمحمد 🙂') for n in numbers]
        )
        conversations = Conversation.objects.bulk_create(
            [
                Conversation(page=page, facebook_id=f"t_{n}", contact=c, updated_time=start)
                for n, c in zip(numbers, contacts, strict=True)
            ]
        )
        by_number = dict(zip(numbers, conversations, strict=True))
        rows = []
        for i in range(first, first + count):
            conversation = by_number[i // MESSAGES_PER_CONVERSATION]
            rows.append(
                Message(
                    page=page, conversation=conversation, facebook_id=f"m_{i}",
                    sender_id=conversation.contact.psid, sender_name=conversation.contact.name,
                    direction="in", text=f"Message {i}: hello, \"world\"\nsecond line 🙂" * 2,
                    attachments=[{"type": "image", "name": f"photo {i}.jpg", "url": "https://cdn.example/p.jpg"}] if i % 5 == 0 else [],  # noqa: E501
                    created_time=start + timedelta(seconds=i),
                )
            )  # fmt: skip
        Message.objects.bulk_create(rows)
        InteractionEvent.objects.bulk_create(
            InteractionEvent(
                page=page, conversation=m.conversation, contact=m.conversation.contact,
                kind="message_received", source_id=m.facebook_id, occurred_at=m.created_time,
            )
            for m in rows
        )  # fmt: skip


def measure(size: int, postgres: bool) -> list[dict]:
    workdir = Path(tempfile.mkdtemp(prefix="fbsync-export-bench-"))
    pg_name = None
    url = f"sqlite:///{workdir / 'db.sqlite3'}"
    if postgres:
        pg_name = f"fbsync_bench_export_{os.getpid()}_{size}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}"')
            admin.execute(f'CREATE DATABASE "{pg_name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + pg_name
    env = {**os.environ, "DATABASE_URL": url, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        subprocess.run([PYTHON, MANAGE, "migrate", "-v0", "--skip-checks"], env=env, check=True)
        subprocess.run([PYTHON, __file__, "--seed", str(size)], env=env, check=True)
        results = []
        for fmt in ("jsonl", "csv"):
            out = workdir / f"export.{fmt}"
            cmd = [PYTHON, MANAGE, "export_page", PAGE_ID, "--format", fmt, "--output", str(out)]
            m = run_measured([*cmd, "--skip-checks"], env, workdir)
            if m.returncode != 0:
                raise RuntimeError(m.stderr_tail)
            rows = size * 2 + size // MESSAGES_PER_CONVERSATION
            results.append(
                {
                    "db": "PostgreSQL" if postgres else "SQLite",
                    "messages": size,
                    "format": fmt,
                    "rows": rows,
                    "wall_s": round(m.wall_s, 2),
                    "rows_per_s": round(rows / m.wall_s),
                    "peak_rss_mb": round(m.maxrss_mb, 1),
                    "file_mb": round(out.stat().st_size / 2**20, 1),
                }
            )
        return results
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if pg_name:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if args.seed is not None:
        seed(args.seed)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    header = f"{'db':<11}{'messages':>9} {'format':<6}{'rows':>8}{'wall s':>8}{'rows/s':>9}"
    print(header + f"{'peak RSS MB':>13}{'file MB':>9}")
    for postgres in (False, True) if not args.no_postgres else (False,):
        for size in sizes:
            for r in measure(size, postgres):
                print(
                    f"{r['db']:<11}{r['messages']:>9} {r['format']:<6}{r['rows']:>8}"
                    f"{r['wall_s']:>8}{r['rows_per_s']:>9}{r['peak_rss_mb']:>13}{r['file_mb']:>9}"
                )


if __name__ == "__main__":
    main()
