from django.core.management.base import BaseCommand
from django.db import transaction

from pages import crypto
from pages.models import FacebookPage


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored access token with the first key of TOKEN_ENCRYPTION_KEYS. "
        "Put the new key first, keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args, **options) -> None:
        count = 0
        with transaction.atomic():
            for page in FacebookPage.objects.select_for_update().exclude(encrypted_access_token=""):
                page.encrypted_access_token = crypto.rotate(page.encrypted_access_token)
                page.save(update_fields=["encrypted_access_token"])
                count += 1
        self.stdout.write(f"Re-encrypted {count} token(s) with the newest key.")
