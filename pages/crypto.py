"""Encryption of access tokens at rest (Fernet from `cryptography`).

`TOKEN_ENCRYPTION_KEYS` holds one or more Fernet keys, newest first: the first encrypts, all
decrypt, so a key can be rotated without downtime (`manage.py rotate_token_key` re-encrypts).
Keys derived from `SECRET_KEY` and `SECRET_KEY_FALLBACKS` also decrypt (never encrypt, once
TOKEN_ENCRYPTION_KEYS is set): tokens stored by a checkout that ran without TOKEN_ENCRYPTION_KEYS,
or before a SECRET_KEY rotation, stay readable until they are rotated.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class TokenDecryptionError(Exception):
    """The stored token cannot be decrypted with any configured key."""


def _derived(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest()))


@cache
def _fernet(keys: tuple[str, ...], secret_keys: tuple[str, ...]) -> MultiFernet:
    # Without TOKEN_ENCRYPTION_KEYS (only allowed with DEBUG on) the key derived from
    # SECRET_KEY encrypts, so a fresh checkout works unconfigured.
    derived = [_derived(secret) for secret in secret_keys if secret]
    return MultiFernet([Fernet(key.encode()) for key in keys] + derived)


def get_fernet() -> MultiFernet:
    secret_keys = (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()))
    return _fernet(tuple(settings.TOKEN_ENCRYPTION_KEYS), tuple(secret_keys))


def encrypt(plaintext: str) -> str:
    return get_fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return get_fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise TokenDecryptionError(
            "fbsync cannot decrypt this Page's stored access token: none of the keys in "
            "TOKEN_ENCRYPTION_KEYS (nor SECRET_KEY and SECRET_KEY_FALLBACKS) is the one it was "
            "encrypted with. Put the old key back at the end of TOKEN_ENCRYPTION_KEYS, or "
            "reconnect the Page with a new token."
        ) from exc


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the newest key."""
    return get_fernet().rotate(ciphertext.encode()).decode()
