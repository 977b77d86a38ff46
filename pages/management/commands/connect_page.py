import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pages.connect import ConnectError, connect_page


class Command(BaseCommand):
    help = (
        "Connect a Facebook Page: ask Graph what its access token is (debug_token, when "
        "FACEBOOK_APP_ID and FACEBOOK_APP_SECRET are set) and store it encrypted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--page-id", required=True, help="The Facebook page id.")
        parser.add_argument(
            "--access-token",
            required=True,
            help="The Page access token, or - to read it from standard input.",
        )

    def handle(self, *args, page_id: str, access_token: str, **options) -> None:
        if access_token == "-":  # noqa: S105  ("-" means: read it from stdin)
            access_token = sys.stdin.readline()
        try:
            connected = connect_page(page_id, access_token)
        except ConnectError as exc:
            raise CommandError(str(exc)) from None
        page = connected.page
        self.stdout.write(f"Connected {page.name} ({page.facebook_id}).")
        for note in connected.notes:
            self.stdout.write(note)
