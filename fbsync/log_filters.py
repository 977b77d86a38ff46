"""Logging filters attached in settings.LOGGING."""

import logging


class QuietForbidden(logging.Filter):
    """`django.request` logs every 403 (PermissionDenied) with a full traceback. A refused
    request is routine, not a bug: keep the one-line warning, drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
