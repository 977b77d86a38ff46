"""Keep Graph credentials out of every log line, including third-party ones (urllib3 logs each
request's URL at DEBUG, and Graph requires `appsecret_proof` in the query string)."""

from __future__ import annotations

import logging
import re

# Facebook Login's exchanges (pages/facebook_login.py) send client_secret, fb_exchange_token
# and the login `code` in the query too; `code` only as a query parameter ("code=190" is not).
_SECRET_PARAM = re.compile(
    r"(access_token|appsecret_proof|input_token|client_secret|fb_exchange_token|(?<=[?&])code)"
    r"=[^&\s\"']+"
)


def redact_secret_params(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1=[redacted]", text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts: covers the message, its arguments and tracebacks."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_secret_params(super().format(record))
