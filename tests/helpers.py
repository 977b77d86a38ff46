"""Helpers shared by the tests: fake time, connecting a page to the sandbox, running the sync
engine in-process or `manage.py` and daphne in real subprocesses, a staff session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.contrib.auth.models import Permission, User
from django.db import connection, connections
from django.test import Client

from conversations.models import Conversation, InteractionEvent, Message
from fbsync.access import INBOX_PERMISSION
from pages.models import FacebookPage, SyncRun
from pages.sync import runs
from pages.sync.controls import RunControls
from pages.sync.engine import run_sync
from pages.sync.runs import Start, create_run

ROOT = Path(__file__).resolve().parent.parent


class FakeTime:
    """An injectable clock whose sleeps return at once and are recorded."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    @property
    def slept(self) -> float:
        return sum(self.sleeps)


def point_settings_at(settings, server) -> None:
    settings.FACEBOOK_GRAPH_URL = server.url
    settings.FACEBOOK_CALLS_PER_SECOND = 0


def connect(server, index: int = 0) -> FacebookPage:
    page_id, name, token = server.pages[index]
    page = FacebookPage(facebook_id=page_id, name=name)
    page.access_token = token
    page.save()
    return page


def sync(
    page: FacebookPage,
    *,
    full: bool = False,
    resume: bool = False,
    fake_time: FakeTime | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_progress=None,
) -> SyncRun:
    """Create, claim and execute a run in-process, as the command and the worker do."""
    page.refresh_from_db()
    run = create_run(page, trigger=SyncRun.Trigger.COMMAND, mode=start_mode(full, resume))
    runs.claim(run)
    fake = fake_time or FakeTime()
    controls = RunControls(
        sleep=fake.sleep,
        clock=fake.clock,
        should_stop=should_stop or (lambda: False),
        on_progress=on_progress or (lambda snapshot: None),
    )
    return run_sync(run, controls)


def start_mode(full: bool = False, resume: bool = False) -> Start:
    return Start.RESUME if resume else Start.FULL if full else Start.NEXT


def stored_state(page: FacebookPage) -> dict:
    """Everything a sync wrote for a page, in a comparable form."""
    conversations = {
        c.facebook_id: (c.folder, c.contact.name if c.contact else None, c.updated_time)
        for c in Conversation.objects.filter(page=page).select_related("contact")
    }
    messages: dict[str, list[str]] = {}
    for conversation_id, message_id in (
        Message.objects.filter(page=page)
        .order_by("-created_time", "-id")
        .values_list("conversation__facebook_id", "facebook_id")
    ):
        messages.setdefault(conversation_id, []).append(message_id)
    events = sorted(InteractionEvent.objects.filter(page=page).values_list("kind", "source_id"))
    return {"conversations": conversations, "messages": messages, "events": events}


def test_database_url() -> str:
    """A DATABASE_URL for a subprocess to open the test database this test uses."""
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or "postgres"
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


test_database_url.__test__ = False  # not a test, despite its name


def manage_env(server, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        FACEBOOK_GRAPH_URL=server.url,
        FACEBOOK_CALLS_PER_SECOND="0",
        PYTHONUNBUFFERED="1",
        # Workers download attachments (media/): never into the checkout's media-store/.
        MEDIA_ROOT=os.environ.get("MEDIA_ROOT") or f"/tmp/fbsync-test-media-{os.getpid()}",
    )
    env.update(extra)
    return env


def manage(server, *args: str, timeout: float = 120, **extra_env: str):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=manage_env(server, **extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def spawn_manage(server, *args: str, **extra_env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=manage_env(server, **extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early: {proc.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


class Daphne:
    """A real daphne serving the app (SSE needs ASGI: pytest-django's live_server is WSGI)."""

    def __init__(self, server, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("daphne")),
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "fbsync.asgi:application",
            ],
            cwd=ROOT,
            env=manage_env(server, **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_port(self.port, self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


def create_inbox_staff(username: str = "staff", password: str = "pw") -> User:
    """A staff user who may use the inbox (the `conversations.view_conversation` permission)."""
    user = User.objects.create_user(username, password=password, is_staff=True)
    app_label, codename = INBOX_PERMISSION.split(".")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )
    return user


def staff_session_cookie(username: str = "staff") -> dict[str, str]:
    """Log an inbox staff user in (session stored in the test database); return its cookie."""
    user = create_inbox_staff(username)
    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


def closing_connections(target: Callable[..., object]) -> Callable[..., None]:
    """`target` for a test thread: the database connections it opens are closed when it ends
    (a thread's connection left open keeps the test database busy at teardown)."""

    def run(*args, **kwargs) -> None:
        try:
            target(*args, **kwargs)
        finally:
            connections.close_all()

    return run


def synced_page_with_new_messages(server, settings, *, in_thread_of: int, new: int) -> tuple:
    """A synced page of `server` whose first thread of at least `in_thread_of` messages then
    got `new` messages on Facebook; returns (page, that thread's truth)."""
    point_settings_at(settings, server)
    page = connect(server)
    sync(page)
    truth = server.sandbox.truth(page.facebook_id)
    thread = next(c for c in truth["conversations"] if len(c["message_ids"]) >= in_thread_of)
    server.sandbox.add_messages(
        page.facebook_id, conversation_ids=[thread["id"]], per_conversation=new
    )
    return page, thread
