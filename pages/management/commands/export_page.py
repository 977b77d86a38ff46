import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations import export
from pages.models import FacebookPage


class Command(BaseCommand):
    help = (
        "Export a Page's conversations, messages (with attachment file names) and events as "
        "JSON Lines or CSV, streamed (schema: docs/export.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "page_id", help="The Page's Facebook id (as sync_page takes it), not the database pk."
        )
        parser.add_argument("--format", choices=export.FORMATS, default="jsonl")
        parser.add_argument(
            "--since",
            help="Only what happened from this moment: YYYY-MM-DD (midnight UTC) or an ISO "
            "8601 date and time (UTC unless it has an offset). Conversations by updated_time, "
            "messages by created_time, events by occurred_at.",
        )
        parser.add_argument(
            "--output",
            help="Write to this file (replaced only when the export succeeds) instead of stdout.",
        )

    def handle(self, *args, page_id, format, since, output, **options) -> None:
        try:
            moment = export.parse_since(since) if since is not None else None
        except export.BadSince as exc:
            raise CommandError(str(exc)) from None
        page = FacebookPage.objects.filter(facebook_id=page_id.strip()).first()
        if page is None:
            raise CommandError(f"No Page with Facebook id {page_id!r} is stored.")
        lines = export.export_lines(page, format, moment)
        if output:
            write_file_atomically(Path(output), lines)
        else:
            for line in lines:
                self.stdout.write(line, ending="")


def write_file_atomically(path: Path, lines) -> None:
    """Written to a temporary file beside `path`, renamed over it only when complete: a failed
    or interrupted export never leaves a half-written file under the name asked for."""
    directory = path.resolve().parent
    if not directory.is_dir():
        raise CommandError(f"No such directory: {directory}")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            for line in lines:
                file.write(line)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
