"""How a run ended: what the engine hands back instead of saving a status itself.

`outcome_of` maps whatever ended the walk (nothing, a stop, a Graph error, a crash) to the
status and message a person sees. It is a plain function of its arguments, tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pages.crypto import TokenDecryptionError
from pages.graph.errors import GraphError, PolicyBlockError, RateLimitError, TokenError
from pages.models import SyncRun
from pages.sync.controls import SyncStopped

S = SyncRun.Status
UNREADABLE_TOKEN = "The stored token cannot be decrypted."  # noqa: S105 (a message, no secret)


@dataclass(frozen=True)
class Outcome:
    status: str
    message: str
    # When a parked run may go on (status `paused`).
    resume_at: datetime | None = None
    # Graph refused the token: the page needs a new one (the reason, safe to show).
    token_error: str = ""

    @property
    def needs_reconnect(self) -> bool:
        return bool(self.token_error)


def outcome_of(
    error: BaseException | None,
    *,
    summary: str,
    current: int,
    cancel_requested: bool,
    can_park: bool,
    now: datetime,
) -> Outcome:
    """The outcome of a run that ended with `error` (None: it walked to the end)."""
    saved = f"Progress saved at conversation #{current}."
    if error is None:
        return Outcome(S.COMPLETE, summary)
    if isinstance(error, SyncStopped):
        status = S.CANCELLED if cancel_requested else S.INTERRUPTED
        return Outcome(status, f"{status.label}. {saved}")
    if isinstance(error, KeyboardInterrupt | SystemExit):
        return Outcome(S.INTERRUPTED, f"Stopped by a shutdown. {saved}")
    if isinstance(error, TokenError):
        return Outcome(
            S.FAILED,
            f"Facebook rejected the Page's access token ({error}). Reconnect the Page with a "
            "new token, then resume: progress is saved.",
            token_error=str(error),
        )
    if isinstance(error, TokenDecryptionError):
        # A configuration problem, not a crash: retrying cannot help until someone acts.
        return Outcome(S.FAILED, str(error), token_error=UNREADABLE_TOKEN)
    if isinstance(error, RateLimitError):
        resume_at = now + timedelta(seconds=error.wait_seconds)
        if cancel_requested:
            return Outcome(S.CANCELLED, f"Cancelled. {saved}")
        if not can_park:
            return Outcome(
                S.INTERRUPTED,
                f"Facebook's rate limit did not lift ({error}). Progress is saved: resume "
                f"after {resume_at:%H:%M} UTC.",
            )
        return Outcome(
            S.PAUSED,
            f"Paused by Facebook's rate limit until {resume_at:%H:%M:%S} UTC.",
            resume_at=resume_at,
        )
    if isinstance(error, PolicyBlockError):
        return Outcome(
            S.FAILED, f"Facebook blocked these calls for policy reasons ({error}). Ask an admin."
        )
    if isinstance(error, GraphError):
        return Outcome(
            S.FAILED, f"Facebook did not answer usably: {error}. Progress is saved; resume later."
        )
    return Outcome(S.FAILED, "The sync stopped on an internal error.")
