import json
import threading

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm.contrib.logging import logging_redirect_tqdm

from pages.harness import RunHarness, StopSignals
from pages.management.commands._sync_bar import SyncBar, bar_line, printable
from pages.models import FacebookPage, SyncRun
from pages.sync.checkpoint import SyncProgress
from pages.sync.runs import Start, SyncAlreadyRunning, create_run
from pages.sync.verify_report import VerifyReport

# How often the bar is redrawn: on a terminal, often; in a file or a pipe every redraw stays
# in the output, so rarely.
TERMINAL_REDRAW_SECONDS = 0.2
FILE_REDRAW_SECONDS = 10.0


class Command(BaseCommand):
    help = (
        "Sync a Page's Messenger conversations. Exits 0 only when the sync completes (with "
        "--verify: and nothing is missing, or --repair stored all of it); Ctrl-C or SIGTERM "
        "stops after the conversation in flight and saves the checkpoint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("page_id", nargs="?", help="The Facebook page id.")
        parser.add_argument("--all", action="store_true", help="Sync every connected page.")
        parser.add_argument("--resume", action="store_true", help="Continue from the checkpoint.")
        parser.add_argument("--full", action="store_true", help="Walk every conversation.")
        parser.add_argument(
            "--history",
            action="store_true",
            help="After the sync, fetch every conversation's older messages down to its first "
            "(the history backfill; resumes where it stopped).",
        )
        parser.add_argument(
            "--verify",
            action="store_true",
            help="Compare what is stored with Facebook and print what is missing (no sync). "
            "Exits 0 only when nothing is missing.",
        )
        parser.add_argument(
            "--repair",
            action="store_true",
            help="With --verify: also fetch what is missing. Exits 0 only when all of it "
            "was stored.",
        )
        parser.add_argument(
            "--json", action="store_true", help="End stdout with one JSON line of results."
        )

    def handle(self, *args, page_id, all, resume, full, json, history=False, **options) -> None:
        if bool(page_id) == bool(all):
            raise CommandError("Give a page id or --all (not both).")
        verify = verify_mode(options, resume=resume, full=full, history=history)
        if all:
            pages = list(
                FacebookPage.objects.exclude(token_status=FacebookPage.TokenStatus.NEEDS_RECONNECT)
                # A Page without a token (made in the admin) is not connected: nothing to sync.
                .exclude(encrypted_access_token="")
            )
        else:
            pages = list(FacebookPage.objects.filter(facebook_id=page_id.strip()))
            if not pages:
                raise CommandError(
                    f"Page {page_id} is not connected. Run: manage.py connect_page "
                    f"--page-id {page_id} --access-token TOKEN"
                )

        mode = verify or (Start.RESUME if resume else Start.FULL if full else Start.NEXT)
        results = []
        # Ctrl-C and SIGTERM stop the run in flight after its conversation, and the loop.
        # Log records are printed above the bar, never through it.
        with StopSignals(chain=False) as signals, logging_redirect_tqdm():
            for page in pages:
                if signals.event.is_set():
                    break
                if len(pages) > 1:
                    self.stderr.write(printable(page.name or page.facebook_id), style_func=str)
                results.append(self.sync_one(page, mode=mode, stop=signals.event))
                self.say_how_it_ended(results[-1])
                if verify:
                    self.print_report(results[-1])
                if history and results[-1]["status"] == SyncRun.Status.COMPLETE:
                    if signals.event.is_set():
                        break
                    results.append(self.sync_one(page, mode=Start.HISTORY, stop=signals.event))
                    self.say_how_it_ended(results[-1])
        if json:
            self.print_json(results)
        if not results or any(r["status"] != SyncRun.Status.COMPLETE for r in results):
            raise SystemExit(1)
        if verify and any(VerifyReport.from_json(r.get("report")).outstanding for r in results):
            raise SystemExit(1)  # something is missing (and was not repaired)

    def sync_one(self, page: FacebookPage, *, mode: Start, stop: threading.Event) -> dict:
        if not page.is_connected:
            return result_of(page, None, "failed", "The page is not connected: run connect_page.")
        if page.needs_reconnect:
            return result_of(page, None, "failed", "The page needs reconnecting: run connect_page.")
        try:
            run = create_run(page, trigger=SyncRun.Trigger.COMMAND, mode=mode)
        except SyncAlreadyRunning as exc:
            return result_of(page, None, "failed", str(exc))

        terminal = self.stderr.isatty()
        redraw = TERMINAL_REDRAW_SECONDS if terminal else FILE_REDRAW_SECONDS
        bar = SyncBar(
            file=self.stderr._out,
            bar_format="{desc}",
            desc="Starting",
            dynamic_ncols=True,
            mininterval=redraw,
            miniters=0,
        )
        last = {}

        def on_progress(snapshot: SyncProgress) -> None:
            previous = last.get("progress")
            # A new phase shows at once; so, on a terminal, does the last conversation before
            # the engine waits for Graph (in a file that would be a line per page read).
            new_phase = previous is None or previous.phase != snapshot.phase
            at_once = new_phase or (snapshot.flush and terminal)
            bar.show(bar_line(snapshot, timezone.now()), at_once=at_once)
            last["progress"] = snapshot

        # Nobody would resume a parked run of this process: long pauses are waited out.
        harness = RunHarness(run, stop=stop, park_after_seconds=None, on_progress=on_progress)
        try:
            run = harness.execute()
        finally:
            bar.close()
        message = run.error or (last["progress"].message if last else "")
        result = result_of(page, run, run.status, message)
        if run.mode in (SyncRun.Mode.VERIFY, SyncRun.Mode.REPAIR):
            result["report"] = run.report
        return result

    def print_report(self, result: dict) -> None:
        """A verify's findings on stdout: the summary, then the first conversations with
        what each lacks."""
        if result.get("report"):
            for line in VerifyReport.from_json(result["report"]).lines():
                self.stdout.write(printable(line))

    def say_how_it_ended(self, result: dict) -> None:
        """One line; on a terminal green when the sync completed, red only when it failed
        (an interrupted or cancelled run is a warning, not an error). Plain in a file."""
        styles = {
            SyncRun.Status.COMPLETE: self.style.SUCCESS,
            SyncRun.Status.FAILED: self.style.ERROR,
        }
        style = styles.get(result["status"], self.style.WARNING)
        self.stderr.write(
            printable(result["message"]), style_func=style if self.stderr.isatty() else str
        )

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


def verify_mode(options: dict, *, resume: bool, full: bool, history: bool) -> Start | None:
    """Start.VERIFY or Start.REPAIR for --verify [--repair]; None for a sync."""
    if options.get("repair") and not options.get("verify"):
        raise CommandError("--repair goes with --verify: sync_page ID --verify --repair.")
    if not options.get("verify"):
        return None
    if resume or full or history:
        raise CommandError("--verify does not sync: leave out --resume, --full and --history.")
    return Start.REPAIR if options.get("repair") else Start.VERIFY


def result_of(page: FacebookPage, run: SyncRun | None, status: str, message: str) -> dict:
    return {
        "page": page.facebook_id,
        "mode": run.mode if run else "",
        "status": status,
        "current": run.current if run else 0,
        "total": run.total if run else None,
        "inserted": run.inserted if run else 0,
        "updated": run.updated if run else 0,
        "skipped": run.skipped if run else 0,
        "events": run.events if run else 0,
        "message": message,
    }
