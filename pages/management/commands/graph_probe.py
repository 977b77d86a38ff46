"""`manage.py graph_probe PAGE_ID [--json]`: how the real Graph API behaves for this Page."""

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pages.graph.client import GraphClient
from pages.graph.errors import GraphError
from pages.models import FacebookPage
from pages.probe import Probe, ProbeReport


class Command(BaseCommand):
    help = (
        "Probe the configured Graph API with a connected Page's token: about ten read-only "
        "calls, spaced like a sync's. Prints what Graph does (and stores it on the Page)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("page_id", help="The Facebook page id of a connected Page.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, page_id: str, json: bool, **options) -> None:
        page = FacebookPage.objects.filter(facebook_id=page_id.strip()).first()
        if page is None:
            raise CommandError(f"Page {page_id} is not connected: run connect_page first.")
        client = GraphClient.for_page(page)
        try:
            report = Probe(page, client).run()
        except GraphError as exc:
            raise CommandError(f"The probe stopped: {exc}") from None
        finally:
            client.session.close()
        if json:
            self.stdout.write(_json_dumps(report.to_json()))
        else:
            self.stdout.write(describe(report))


def _json_dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def describe(report: ProbeReport) -> str:
    folders = ", ".join(f"{folder} {state}" for folder, state in report.folders.items())
    lines = [
        f"Page {report.page_name or report.page_id} ({report.page_id}), Graph {report.api_version}",
        f"Token: {report.token or 'not checked'}",
        f"Folders: {folders}",
        f"All folders' tops in one call: {report.one_call_tops or 'not tried'}"
        + (f"; empty folders {report.empty_edges}" if report.empty_edges else ""),
        f"Messages paging: {report.messages_paging or 'not tried'}; conversations paging: "
        f"{report.conversations_paging or 'not tried'}",
        f"Fields Graph no longer has: {', '.join(report.removed_fields) or 'none'}",
        f"Largest page accepted: {report.largest_page or 'none of the sizes tried'} "
        f"conversations (ids only), {report.largest_page_with_messages or 'none'} with "
        f"{25} nested messages",
        f"Webhooks: {report.webhooks or 'not tried'}",
        f"Graph calls made: {report.calls}",
    ]
    lines += [f"Note: {note}" for note in report.token_notes]
    lines += [f"Could not tell: {problem}" for problem in report.problems]
    return "\n".join(lines)
