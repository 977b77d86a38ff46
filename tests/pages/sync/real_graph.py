"""Shared by the tests of the real Graph's behaviours (issue 8, tests/pages/sync/test_real_graph*):
a sandbox with switches on, syncs stopped after some conversations, what Graph was asked."""

from __future__ import annotations

from collections.abc import Callable

from pages.models import FacebookPage, SyncRun
from pages.sync.checkpoint import FOLDERS
from tests.helpers import connect, point_settings_at, sync

PAGE_SIZE = 10


def switched_sandbox(
    make_graph_sandbox, settings, *, conversations: int = 80, seed: int = 7, **switches
) -> tuple:
    """A sandbox the app is pointed at, with `switches` on; its page connected. Lists are read
    10 conversations at a time, so every folder's walk pages (and a stop leaves a position)."""
    server = make_graph_sandbox(conversations=conversations, seed=seed)
    point_settings_at(settings, server)
    settings.SYNC_PAGE_SIZE = PAGE_SIZE
    if switches:
        server.sandbox.configure(**switches)
    return server, connect(server)


def interrupted_sync(
    page: FacebookPage,
    *,
    after: int | None = None,
    when: Callable[[], bool] | None = None,
    full: bool = False,
) -> SyncRun:
    """A sync whose `should_stop` answers yes once `after` conversations are done (or `when`
    says so): it ends interrupted, as a stop signal would end it."""
    done = 0

    def on_progress(progress) -> None:
        nonlocal done
        done = progress.current

    def should_stop() -> bool:
        return (after is not None and done >= after) or (when is not None and when())

    run = sync(page, full=full, should_stop=should_stop, on_progress=on_progress)
    assert run.status == SyncRun.Status.INTERRUPTED, run.error
    return run


def before_folder(truth: dict, folder: str) -> int:
    """How many conversations a walk has done when it reaches `folder`."""
    earlier = FOLDERS[: FOLDERS.index(folder)]
    return sum(1 for c in truth["conversations"] if c["folder"] in earlier)


def requests_of(server, page: FacebookPage) -> list[dict]:
    return server.sandbox.stats(page.facebook_id)["requests"]


def http_requests(server, page: FacebookPage) -> int:
    """Round trips to Graph (a batch is one, whatever its items)."""
    stats = server.sandbox.stats(page.facebook_id)
    return stats["total"] - stats["batch_items"] + stats["batch"]


def listed_folders(requests: list[dict]) -> set[str]:
    """The folders of the list calls (plain and batch items) among `requests`."""
    return {r["params"]["folder"] for r in requests if "folder" in r["params"]}
