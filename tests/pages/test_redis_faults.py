"""Redis restarts mid-sync: the sync never fails, and live progress comes back within
seconds without restarting daphne. Uses a private redis-server, not the shared one."""

import re
import shutil
import subprocess
import time

import pytest

from tests.helpers import connect, free_port, spawn_manage, staff_session_cookie, wait_for_port
from tests.sse import SseReader

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "/usr/bin/redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.proc)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def private_redis():
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.stop()


def counter(html: str) -> int:
    return int(re.search(r'data-counter="inserted">\+(\d+)<', html).group(1))


def test_redis_restart_mid_sync_keeps_live_progress_and_the_sync(
    make_graph_sandbox, start_daphne, private_redis
):
    server = make_graph_sandbox(conversations=200, seed=17, latency_ms=40)
    page = connect(server)
    env = {"REDIS_URL": private_redis.url, "SYNC_PAGE_SIZE": "10"}
    daphne = start_daphne(server, **env)
    reader = SseReader(f"{daphne.url}/pages/{page.pk}/events/", staff_session_cookie())
    time.sleep(0.5)
    sync = spawn_manage(server, "sync_page", page.facebook_id, "--json", **env)
    reader.wait_for(lambda html: 'data-status="running"' in html and counter(html) >= 20)

    private_redis.stop()
    time.sleep(2)
    down_seen = len(reader.events)
    private_redis.start()
    restarted = time.monotonic()
    after = reader.wait_for(
        lambda html: reader.events.index(html) >= down_seen and counter(html) > 20, timeout=10
    )
    delay = time.monotonic() - restarted

    final = reader.wait_for(lambda html: 'data-status="complete"' in html, timeout=60)
    stdout, _ = sync.communicate(timeout=60)
    reader.close()

    assert delay < 5
    assert counter(after) > 20
    assert counter(final) == 200
    assert '"status": "complete"' in stdout.splitlines()[-1]
