"""How fast a run goes and when it should end: one calculation for the web card and the
command line's bar, so both tell the same story."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# An ETA is shown only once the rate rests on enough: this long walking and this many
# conversations processed by the run (the first seconds include Graph's cold start).
STABLE_AFTER = timedelta(seconds=10)
STABLE_AFTER_CONVERSATIONS = 20


@dataclass(frozen=True)
class Pace:
    elapsed: timedelta
    # Conversations per second processed by this run (None before it processed any).
    rate: float | None
    # Time left at that rate; None until the rate is stable or without a total.
    eta: timedelta | None


def pace_of(
    *,
    walk_started_at: str | datetime | None,
    walk_start_current: int,
    current: int,
    total: int | None,
    now: datetime,
) -> Pace | None:
    """The pace of a run that is walking; None before its walk began."""
    if isinstance(walk_started_at, str):
        try:
            walk_started_at = datetime.fromisoformat(walk_started_at) if walk_started_at else None
        except ValueError:
            walk_started_at = None
    if walk_started_at is None:
        return None
    elapsed = max(now - walk_started_at, timedelta(0))
    done = max(current - walk_start_current, 0)
    seconds = elapsed.total_seconds()
    rate = done / seconds if done and seconds > 0 else None
    eta = None
    stable = elapsed >= STABLE_AFTER and done >= STABLE_AFTER_CONVERSATIONS
    if rate and stable and total and total > current:
        eta = timedelta(seconds=round((total - current) / rate))
    return Pace(elapsed=elapsed, rate=rate, eta=eta)
