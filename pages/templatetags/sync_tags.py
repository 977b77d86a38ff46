from datetime import datetime, timedelta

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """A run's duration for people: "4 s", "3 min 12 s", "1 h 05 min"."""
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@register.filter
def time_left(value: datetime | None) -> str:
    """A countdown as static/js/countdown.js ticks it: "1 min 20 s", "20 s", "a moment"."""
    if value is None:
        return ""
    seconds = max(0, round((value - timezone.now()).total_seconds()))
    if seconds <= 0:
        return "a moment"
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


# The card's buttons: the view each posts to, and the id its form and button are named by
# (stable ids let a live update keep each control's node, and never morph one into another).
SYNC_ACTION_URLS = {
    "sync": "pages:sync",
    "full_sync": "pages:full_sync",
    "start_over": "pages:full_sync",
    "resume": "pages:resume",
    "cancel": "pages:cancel",
}


@register.filter
def sync_action_url(action: str) -> str:
    return SYNC_ACTION_URLS[action]


@register.filter
def sync_action_id(action: str) -> str:
    return action.replace("_", "-")


@register.filter(is_safe=True)
def squash(value: str) -> str:
    """Runs of whitespace (the template's line breaks) as one space, none at the ends: for
    `{% filter squash %}` around a line of text written over several template lines."""
    return " ".join(str(value).split())
