"""Fail closed: with DEBUG off the app refuses to start on secrets anyone can read.

Used by settings.py before Django is set up, so this module imports nothing from Django but
the exception.
"""

from django.core.exceptions import ImproperlyConfigured

# Only ever used with DEBUG on (a local checkout without .env); it is published in this repo.
DEVELOPMENT_SECRET_KEY = "insecure-local-development-key-change-me"  # noqa: S105 (public on purpose)
# Values that are public: the old default, .env.example's placeholder, startproject's prefix.
_PUBLIC_SECRET_KEYS = {DEVELOPMENT_SECRET_KEY, "change-me"}

RANDOM_KEY_COMMAND = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
FERNET_KEY_COMMAND = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def is_public_secret_key(value: str) -> bool:
    return not value.strip() or value in _PUBLIC_SECRET_KEYS or value.startswith("django-insecure-")


def require_production_secrets(secret_key: str, token_encryption_keys: list[str]) -> None:
    """Raise ImproperlyConfigured, saying how to fix it, if a secret is missing or public.

    The values themselves never appear in the message.
    """
    problems = []
    if is_public_secret_key(secret_key):
        problems.append(
            "SECRET_KEY is missing or a published development value. Set SECRET_KEY to a "
            f"long random string, e.g. the output of: {RANDOM_KEY_COMMAND}"
        )
    if not [key for key in token_encryption_keys if key.strip()]:
        problems.append(
            "TOKEN_ENCRYPTION_KEYS is empty, so Page tokens would be encrypted with a key "
            "derived from SECRET_KEY. Set it to one or more Fernet keys (comma-separated, newest "
            f"first); generate one with: {FERNET_KEY_COMMAND}"
        )
    if problems:
        raise ImproperlyConfigured(
            "fbsync refuses to start with DEBUG=false: "
            + " ".join(problems)
            + " (For a local checkout, scripts/setup writes a .env with random local keys.)"
        )


def parse_proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """`HTTP_X_FORWARDED_PROTO,https` -> ("HTTP_X_FORWARDED_PROTO", "https"); empty -> None."""
    if not value.strip():
        return None
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2 or not all(parts) or not parts[0].startswith("HTTP_"):
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER must be 'HTTP_<HEADER>,<value>', e.g. "
            "'HTTP_X_FORWARDED_PROTO,https' (a header your proxy always overwrites)."
        )
    return parts[0], parts[1]
