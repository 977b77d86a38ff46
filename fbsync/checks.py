"""System checks for fbsync's own settings (`manage.py check`, run by every command)."""

import binascii

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from fbsync.deployment import FERNET_KEY_COMMAND


@register(Tags.security)
def check_token_encryption_keys(app_configs=None, **kwargs) -> list:
    """Every key must be a Fernet key: a bad one would only fail at the first token written or
    read, in a worker, long after the deploy. Keys are named by position, never shown."""
    messages = []
    keys = list(settings.TOKEN_ENCRYPTION_KEYS)
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError, binascii.Error):
            messages.append(
                Error(
                    f"Key #{position} of TOKEN_ENCRYPTION_KEYS is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes).",
                    hint=f"Generate one with: {FERNET_KEY_COMMAND}",
                    id="fbsync.E001",
                )
            )
    if len(set(keys)) != len(keys):
        messages.append(
            Warning(
                "TOKEN_ENCRYPTION_KEYS lists the same key twice.",
                hint="Keep each key once, newest first.",
                id="fbsync.W001",
            )
        )
    return messages
