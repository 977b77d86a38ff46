"""Settings fail closed with DEBUG off, are secure by default, and every token key is checked."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from fbsync.checks import check_token_encryption_keys
from fbsync.deployment import DEVELOPMENT_SECRET_KEY
from tests.helpers import ROOT

SETTINGS = ROOT / "fbsync" / "settings.py"
# Everything settings.py reads that could leak in from the developer's environment or .env.
SETTINGS_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "TOKEN_ENCRYPTION_KEYS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "REDIS_URL",
    "TIME_ZONE",
)
GOOD_SECRET = "s3cr3t-" + "x7Kq9" * 10


def fernet_key() -> str:
    return Fernet.generate_key().decode()


def load_settings(monkeypatch, **variables: str) -> dict:
    """Execute settings.py afresh with exactly these variables (and no .env)."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FBSYNC_ENV_FILE", "")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


@pytest.mark.parametrize("secret_key", [None, "", DEVELOPMENT_SECRET_KEY, "change-me"])
def test_debug_off_refuses_a_missing_or_published_secret_key(monkeypatch, secret_key):
    variables = {"DEBUG": "false", "TOKEN_ENCRYPTION_KEYS": fernet_key()}
    if secret_key is not None:
        variables["SECRET_KEY"] = secret_key
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY") as refused:
        load_settings(monkeypatch, **variables)
    assert "secrets.token_urlsafe" in str(refused.value)  # the fix is in the message
    assert "TOKEN_ENCRYPTION_KEYS" not in str(refused.value)


def test_debug_off_refuses_empty_token_encryption_keys(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="TOKEN_ENCRYPTION_KEYS is empty") as refused:
        load_settings(monkeypatch, DEBUG="false", SECRET_KEY=GOOD_SECRET)
    message = str(refused.value)
    assert "Fernet.generate_key()" in message
    assert GOOD_SECRET not in message


def test_debug_off_is_the_default_and_lists_every_problem(monkeypatch):
    with pytest.raises(ImproperlyConfigured) as refused:
        load_settings(monkeypatch)
    assert "SECRET_KEY" in str(refused.value)
    assert "TOKEN_ENCRYPTION_KEYS" in str(refused.value)


def test_debug_off_with_keys_is_secure_by_default(monkeypatch):
    old = "old-" + GOOD_SECRET
    loaded = load_settings(
        monkeypatch,
        DEBUG="false",
        SECRET_KEY=GOOD_SECRET,
        SECRET_KEY_FALLBACKS=old,
        TOKEN_ENCRYPTION_KEYS=f"{fernet_key()},{fernet_key()}",
    )
    assert loaded["SECRET_KEY"] == GOOD_SECRET
    assert loaded["SECRET_KEY_FALLBACKS"] == [old]
    assert len(loaded["TOKEN_ENCRYPTION_KEYS"]) == 2
    assert loaded["SECURE_SSL_REDIRECT"] is True
    assert loaded["SESSION_COOKIE_SECURE"] is True
    assert loaded["CSRF_COOKIE_SECURE"] is True
    assert loaded["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert loaded["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert loaded["SECURE_PROXY_SSL_HEADER"] is None
    assert "script-src" in loaded["SECURE_CSP"]


def test_each_secure_setting_can_be_switched_for_plain_http(monkeypatch):
    loaded = load_settings(
        monkeypatch,
        DEBUG="false",
        SECRET_KEY=GOOD_SECRET,
        TOKEN_ENCRYPTION_KEYS=fernet_key(),
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
    )
    assert not loaded["SECURE_SSL_REDIRECT"]
    assert not loaded["SESSION_COOKIE_SECURE"]
    assert not loaded["CSRF_COOKIE_SECURE"]
    assert loaded["SECURE_HSTS_SECONDS"] == 0
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


def test_a_malformed_proxy_ssl_header_is_refused(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="HTTP_X_FORWARDED_PROTO"):
        load_settings(
            monkeypatch,
            DEBUG="false",
            SECRET_KEY=GOOD_SECRET,
            TOKEN_ENCRYPTION_KEYS=fernet_key(),
            SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        )


def test_debug_on_keeps_a_bare_checkout_working(monkeypatch):
    loaded = load_settings(monkeypatch, DEBUG="true")
    assert loaded["SECRET_KEY"] == DEVELOPMENT_SECRET_KEY
    assert loaded["TOKEN_ENCRYPTION_KEYS"] == []
    assert not loaded["SECURE_SSL_REDIRECT"]
    assert not loaded["SESSION_COOKIE_SECURE"]
    assert loaded["SECURE_HSTS_SECONDS"] == 0


def test_the_default_timezone_comes_from_the_environment(monkeypatch):
    assert load_settings(monkeypatch, DEBUG="true")["TIME_ZONE"] == "UTC"
    loaded = load_settings(monkeypatch, DEBUG="true", TIME_ZONE="America/Sao_Paulo")
    assert loaded["TIME_ZONE"] == "America/Sao_Paulo"


def test_manage_py_refuses_to_start_without_the_keys():
    """A real start: the process exits with the reason, not with a half-working app."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env.update(FBSYNC_ENV_FILE="", DEBUG="false")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "fbsync refuses to start with DEBUG=false" in result.stderr


def test_check_flags_an_invalid_token_key_without_showing_it(settings):
    bad = "not-a-fernet-key-but-maybe-a-secret"
    settings.TOKEN_ENCRYPTION_KEYS = [fernet_key(), bad]
    errors = check_token_encryption_keys()
    assert [e.id for e in errors] == ["fbsync.E001"]
    assert "Key #2" in errors[0].msg
    assert bad not in errors[0].msg + errors[0].hint
    # Registered: `manage.py check` runs it.
    assert "fbsync.E001" in [m.id for m in run_checks(tags=["security"])]


def test_check_accepts_valid_keys_and_warns_on_a_repeated_one(settings):
    key = fernet_key()
    settings.TOKEN_ENCRYPTION_KEYS = [fernet_key(), key]
    assert check_token_encryption_keys() == []
    settings.TOKEN_ENCRYPTION_KEYS = [key, key]
    assert [m.id for m in check_token_encryption_keys()] == ["fbsync.W001"]
