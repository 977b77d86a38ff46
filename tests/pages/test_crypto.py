"""Tokens at rest: encrypted, readable back, and rotatable to a new key."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from pages.crypto import TokenDecryptionError
from pages.models import FacebookPage

pytestmark = pytest.mark.django_db


def test_access_token_is_stored_encrypted_and_read_back():
    page = FacebookPage(facebook_id="1")
    page.access_token = "EAAB-secret"
    page.save()
    stored = FacebookPage.objects.values_list("encrypted_access_token", flat=True).get()
    assert "EAAB-secret" not in stored
    assert FacebookPage.objects.get().access_token == "EAAB-secret"


def test_rotate_token_key_reencrypts_with_the_newest_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.TOKEN_ENCRYPTION_KEYS = [old]
    page = FacebookPage(facebook_id="1")
    page.access_token = "EAAB-secret"
    page.save()

    settings.TOKEN_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_token_key")
    settings.TOKEN_ENCRYPTION_KEYS = [new]

    assert FacebookPage.objects.get().access_token == "EAAB-secret"


def test_token_under_an_unknown_key_gives_a_clear_error(settings):
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    page = FacebookPage(facebook_id="1")
    page.access_token = "EAAB-secret"
    page.save()
    settings.TOKEN_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(TokenDecryptionError, match="TOKEN_ENCRYPTION_KEYS"):
        FacebookPage.objects.get().access_token  # noqa: B018
