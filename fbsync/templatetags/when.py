"""Times for people, the same on every screen: `{{ t|ago }}` ("just now", "5 minutes ago",
"in 3 minutes") and `{{ t|stamp }}` (absolute, in the active timezone, labelled with it).
Both are meant inside `<time datetime="{{ t|date:'c' }}">`."""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

register = template.Library()

# Below this, a time is "just now" ("0 minutes ago" says nothing).
JUST_NOW_SECONDS = 60


@register.filter
def ago(value: datetime | None) -> str:
    if not isinstance(value, datetime):
        return ""
    now = timezone.now()
    seconds = (now - value).total_seconds()
    if abs(seconds) < JUST_NOW_SECONDS:
        return "just now"
    if seconds > 0:
        return f"{timesince(value, now, depth=1)} ago"
    return f"in {timeuntil(value, now, depth=1)}"


@register.filter
def stamp(value: datetime | None) -> str:
    """ "2026-11-28 17:40 WET": the active timezone's wall clock and its name."""
    if not isinstance(value, datetime):
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or timezone.get_current_timezone_name()}"
