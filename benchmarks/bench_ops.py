"""Small Django-side steps for production_benchmark.py, run as a subprocess with the
benchmark's environment (DATABASE_URL, FACEBOOK_GRAPH_URL, REDIS_URL, ...):

    bench_ops.py connect        # stdin: the sandbox's pages JSON; connects every page
    bench_ops.py enqueue        # one queued SyncRun + sync_page_task per connected page
    bench_ops.py staff-cookie   # creates a staff user, prints {"sessionid": ...}

Each prints one JSON line on stdout. It uses the app's own entry points (pages.connect,
pages.sync.runs.create_run, pages.tasks.sync_page_task), as the web UI does.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fbsync.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Permission, User  # noqa: E402
from django.test import Client  # noqa: E402

from fbsync.access import INBOX_PERMISSION  # noqa: E402
from pages.connect import connect_page  # noqa: E402
from pages.models import FacebookPage, SyncRun  # noqa: E402
from pages.sync.runs import create_run  # noqa: E402
from pages.tasks import sync_page_task  # noqa: E402


def connect() -> dict:
    pages = json.loads(sys.stdin.read())
    pks = [connect_page(p["id"], p["access_token"]).page.pk for p in pages]
    return {"connected": len(pks), "pks": pks}


def enqueue() -> dict:
    runs = []
    started = time.time()
    for page in FacebookPage.objects.order_by("pk"):
        run = create_run(page, trigger=SyncRun.Trigger.WEB)
        # Outside a transaction (autocommit): enqueue at once, as enqueue_run does on commit.
        sync_page_task.enqueue(run.pk)
        runs.append(run.pk)
    return {"enqueued": len(runs), "runs": runs, "started": started, "done": time.time()}


def staff_cookie() -> dict:
    user = User.objects.create_user("bench-staff", password="pw", is_staff=True)
    app_label, codename = INBOX_PERMISSION.split(".")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )
    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


if __name__ == "__main__":
    action = {"connect": connect, "enqueue": enqueue, "staff-cookie": staff_cookie}[sys.argv[1]]
    print(json.dumps(action()))
