"""Media benchmark (issue 10): the storage used per 1,000 messages with media, and downloads/s.

    .venv/bin/python benchmarks/media_benchmark.py                       # 300 conversations
    .venv/bin/python benchmarks/media_benchmark.py --conversations 60    # a smoke run
    .venv/bin/python benchmarks/media_benchmark.py --pad-bytes 150000    # photo-sized files
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fbsync_media_bench \\
        .venv/bin/python benchmarks/media_benchmark.py                   # on PostgreSQL

In this process: a fresh database (a temporary SQLite file unless DATABASE_URL is given; that
database is migrated and its tables filled, so name a scratch one), a Graph sandbox over real
HTTP (its attachments are ~10 % of messages: images, stickers, PDFs and .docx, videos), a sync
of one Page (the newest 25 messages of each thread), then the media pipeline as the worker runs
it (`media.work.collect`, then `download_due` until nothing is due), into a temporary
MEDIA_ROOT. Printed: messages with media, attachment rows, distinct files, bytes in storage
(walked on disk), bytes per 1,000 messages with media, and downloads/s (rows stored ÷ the
download pass's wall time; each download is one HTTP GET of the sandbox, on localhost).
`--pad-bytes N` pads every served file to N bytes (the sandbox's `media_large`), for
realistic sizes; the sandbox's own files are a few hundred bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup(database_url: str, media_root: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ["MEDIA_ROOT"] = str(media_root)
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fbsync.settings")
    import django  # noqa: PLC0415  (Django starts once the environment is set)

    django.setup()
    from django.core.management import call_command  # noqa: PLC0415

    call_command("migrate", verbosity=0)


def disk_bytes(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--pad-bytes", type=int, default=0)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="fbsync-media-bench-"))
    media_root = scratch / "media"
    setup(os.environ.get("DATABASE_URL") or f"sqlite:///{scratch}/bench.sqlite3", media_root)

    from django.conf import settings  # noqa: PLC0415

    from conversations.models import Message  # noqa: PLC0415
    from graph_sandbox import Sandbox  # noqa: PLC0415
    from graph_sandbox.server import SandboxServer  # noqa: PLC0415
    from media import work  # noqa: PLC0415
    from media.models import MediaAttachment, StoredFile  # noqa: PLC0415
    from pages.models import FacebookPage, SyncRun  # noqa: PLC0415
    from pages.sync import runs  # noqa: PLC0415
    from pages.sync.controls import RunControls  # noqa: PLC0415
    from pages.sync.engine import run_sync  # noqa: PLC0415
    from pages.sync.runs import Start, create_run  # noqa: PLC0415

    server = SandboxServer(Sandbox(args.conversations, args.seed, latency_ms=0)).start()
    try:
        settings.FACEBOOK_GRAPH_URL = server.url
        settings.FACEBOOK_CALLS_PER_SECOND = 0
        page_id, name, token = server.pages[0]
        page = FacebookPage(facebook_id=page_id, name=name)
        page.access_token = token
        page.save()
        started = time.monotonic()
        run = create_run(page, trigger=SyncRun.Trigger.COMMAND, mode=Start.FULL)
        runs.claim(run)
        controls = RunControls(
            sleep=time.sleep, clock=time.monotonic, should_stop=lambda: False,
            on_progress=lambda snapshot: None,
        )  # fmt: skip
        run_sync(run, controls)
        synced = time.monotonic() - started
        if args.pad_bytes:
            server.sandbox.configure(media_large=args.pad_bytes)
        started = time.monotonic()
        created = work.collect(page.pk)
        collected = time.monotonic() - started
        started = time.monotonic()
        while not work.download_due(page.pk, seconds=600):
            pass
        downloading = time.monotonic() - started
    finally:
        server.stop()

    messages = Message.objects.filter(page=page).count()
    with_media = Message.objects.filter(page=page, media__isnull=False).distinct().count()
    states = dict.fromkeys(MediaAttachment.State.values, 0)
    for state in MediaAttachment.objects.values_list("state", flat=True):
        states[state] += 1
    files, size = disk_bytes(media_root)
    assert files == StoredFile.objects.count(), "every stored file is one file on disk"
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"database: {engine}; sandbox: {args.conversations} conversations, seed {args.seed}")
    print(f"sync: {messages:,} messages in {synced:.1f} s")
    print(f"messages with media: {with_media:,}; attachment rows: {created:,} "
          f"(collected in {collected * 1000:.0f} ms); states: {states}")  # fmt: skip
    padded = f" (files padded to {args.pad_bytes:,} bytes)" if args.pad_bytes else ""
    print(f"distinct files stored: {files:,}; bytes in storage: {size:,}{padded}")
    per_thousand = size / with_media * 1000 if with_media else 0
    print(f"storage per 1,000 messages with media: {per_thousand:,.0f} bytes "
          f"({per_thousand / 1024 / 1024:.2f} MiB)")  # fmt: skip
    rate = states["stored"] / downloading if downloading else 0
    print(
        f"downloads: {states['stored']:,} stored in {downloading:.2f} s = {rate:,.0f} downloads/s"
    )


if __name__ == "__main__":
    main()
