from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from fbsync.templatetags.when import ago, stamp


def test_ago_says_just_now_below_a_minute_and_counts_after():
    now = timezone.now()
    assert ago(now) == "just now"
    assert ago(now - timedelta(seconds=59)) == "just now"
    assert ago(now - timedelta(minutes=5, seconds=3)) == "5\xa0minutes ago"
    assert ago(now + timedelta(minutes=3, seconds=30)) == "in 3\xa0minutes"
    assert ago(None) == ""


def test_stamp_shows_the_active_timezone_and_names_it():
    moment = datetime(2026, 7, 1, 12, 30, tzinfo=UTC)
    with timezone.override(ZoneInfo("Europe/Lisbon")):
        assert stamp(moment) == "2026-07-01 13:30 WEST"
    with timezone.override(ZoneInfo("UTC")):
        assert stamp(moment) == "2026-07-01 12:30 UTC"
    assert stamp("") == ""
