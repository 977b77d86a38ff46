"""Encryption of access tokens at rest (Fernet from `cryptography`).

`TOKEN_ENCRYPTION_KEYS` holds one or more Fernet keys, newest first: the first encrypts, all
decrypt, so a key can be rotated without downtime (`manage.py rotate_token_key` re-encrypts).
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class TokenDecryptionError(Exception):
    """The stored token cannot be decrypted with any configured key."""


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        # Local fallback: a key derived from SECRET_KEY, so a fresh checkout works unconfigured.
        derived = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())
        return MultiFernet([Fernet(derived)])
    return MultiFernet([Fernet(key.encode()) for key in keys])


def get_fernet() -> MultiFernet:
    return _fernet(tuple(settings.TOKEN_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return get_fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return get_fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise TokenDecryptionError(
            "The stored access token cannot be decrypted: check TOKEN_ENCRYPTION_KEYS."
        ) from exc


def rotate(ciphertext: str) -> str:
    """Re-encrypt with the newest key."""
    return get_fernet().rotate(ciphertext.encode()).decode()
