"""`manage.py check --deploy` is clean with the README's production settings."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

from cryptography.fernet import Fernet

from tests.fbsync.test_settings import SETTINGS_VARIABLES
from tests.helpers import ROOT

# The variables the README's Production section tells an operator to set, with real values
# where the README has placeholders.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "fbsync.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://fbsync.example.com",
    "SECURE_HSTS_PRELOAD": "true",
}


def production_section() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("\n## Production\n", 1)[1].split("\n## ", 1)[0]


def test_readme_production_section_names_every_variable_used_here():
    section = production_section()
    for name in PRODUCTION:
        assert re.search(rf"`{name}[`=]", section), name


def test_check_deploy_is_clean_with_the_production_settings():
    # Only the process basics from this environment: no .env and none of the local switches.
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(PRODUCTION, FBSYNC_ENV_FILE="")
    assert not set(SETTINGS_VARIABLES) - set(PRODUCTION) & set(env)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (0 silenced)." in result.stdout
