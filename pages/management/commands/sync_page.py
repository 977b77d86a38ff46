import json
import threading
import unicodedata

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from pages.harness import RunHarness, StopSignals
from pages.models import FacebookPage, SyncRun
from pages.sync.checkpoint import SyncProgress
from pages.sync.runs import Start, SyncAlreadyRunning, create_run


class Command(BaseCommand):
    help = (
        "Sync a Page's Messenger conversations. Exits 0 only when the sync completes; "
        "Ctrl-C or SIGTERM stops after the conversation in flight and saves the checkpoint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("page_id", nargs="?", help="The Facebook page id.")
        parser.add_argument("--all", action="store_true", help="Sync every connected page.")
        parser.add_argument("--resume", action="store_true", help="Continue from the checkpoint.")
        parser.add_argument("--full", action="store_true", help="Walk every conversation.")
        parser.add_argument(
            "--json", action="store_true", help="End stdout with one JSON line of results."
        )

    def handle(self, *args, page_id, all, resume, full, json, **options) -> None:
        if bool(page_id) == bool(all):
            raise CommandError("Give a page id or --all (not both).")
        if all:
            pages = list(
                FacebookPage.objects.exclude(token_status=FacebookPage.TokenStatus.NEEDS_RECONNECT)
            )
        else:
            pages = list(FacebookPage.objects.filter(facebook_id=page_id.strip()))
            if not pages:
                raise CommandError(
                    f"Page {page_id} is not connected. Run: manage.py connect_page "
                    f"--page-id {page_id} --access-token TOKEN"
                )

        mode = Start.RESUME if resume else Start.FULL if full else Start.NEXT
        results = []
        # Ctrl-C and SIGTERM stop the run in flight after its conversation, and the loop.
        with StopSignals(chain=False) as signals:
            for page in pages:
                if signals.event.is_set():
                    break
                results.append(self.sync_one(page, mode=mode, stop=signals.event))
                self.stderr.write(printable(results[-1]["message"]))
        if json:
            self.print_json(results)
        if not results or any(r["status"] != SyncRun.Status.COMPLETE for r in results):
            raise SystemExit(1)

    def sync_one(self, page: FacebookPage, *, mode: Start, stop: threading.Event) -> dict:
        if page.needs_reconnect:
            return result_of(page, None, "failed", "The page needs reconnecting: run connect_page.")
        try:
            run = create_run(page, trigger=SyncRun.Trigger.COMMAND, mode=mode)
        except SyncAlreadyRunning as exc:
            return result_of(page, None, "failed", str(exc))

        bar = tqdm(
            desc=page.name or page.facebook_id,
            unit=" conv",
            file=self.stderr._out,
            dynamic_ncols=True,
            mininterval=0.2,
        )
        last = {}

        def on_progress(snapshot: SyncProgress) -> None:
            bar.total = snapshot.total
            bar.set_postfix_str(
                f"+{snapshot.inserted} new, ↻{snapshot.updated} updated, "
                f"{snapshot.events} events, {printable(snapshot.current_name)[:24]}",
                refresh=False,
            )
            bar.update(snapshot.current - bar.n)  # redraws at most every `mininterval`
            last["progress"] = snapshot

        # Nobody would resume a parked run of this process: long pauses are waited out.
        harness = RunHarness(run, stop=stop, park_after_seconds=None, on_progress=on_progress)
        try:
            run = harness.execute()
        finally:
            bar.close()
        message = run.error or (last["progress"].message if last else "")
        return result_of(page, run, run.status, message)

    def print_json(self, results: list[dict]) -> None:
        if len(results) == 1:
            self.stdout.write(json.dumps(results[0]))
            return
        summary = {
            key: sum(r[key] or 0 for r in results)
            for key in ("current", "inserted", "updated", "skipped", "events")
        }
        statuses = {r["status"] for r in results}
        status = "complete" if statuses == {"complete"} else sorted(statuses - {"complete"})[0]
        for r in results:
            self.stdout.write(json.dumps(r))
        self.stdout.write(
            json.dumps(
                {
                    "status": status,
                    **summary,
                    "total": None,
                    "message": f"{len(results)} pages synced.",
                    "pages": [r["page"] for r in results],
                }
            )
        )


def result_of(page: FacebookPage, run: SyncRun | None, status: str, message: str) -> dict:
    return {
        "page": page.facebook_id,
        "status": status,
        "current": run.current if run else 0,
        "total": run.total if run else None,
        "inserted": run.inserted if run else 0,
        "updated": run.updated if run else 0,
        "skipped": run.skipped if run else 0,
        "events": run.events if run else 0,
        "message": message,
    }


def printable(text: str) -> str:
    """Text from Facebook, safe for a terminal: control and format characters (escape
    sequences, bidi overrides) are dropped."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
