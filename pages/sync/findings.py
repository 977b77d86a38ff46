"""What fbsync learned about how Graph treats one Page (`FacebookPage.graph_findings`).

The real Graph API differs from the documentation in ways that vary by Page and version: it
may refuse a folder (#100) or silently ignore it (answering with the inbox), or drop a field
between versions. A sync that meets one of these records it here and goes on; the Page screen
and the admin show it, and later runs use it (a refused folder is left out of the one-call
read of all folders' tops, which would otherwise fail every time). Shape:

    {"folders": {"spam": {"state": "refused", "detail": "...", "seen_at": "..."}},
     "fields": {"subject": {"seen_at": "..."}},
     "probe": {...the last graph_probe report (pages.probe)...}}
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from pages.models import FacebookPage

REFUSED = "refused"
IGNORED = "ignored"


def unavailable_folders(page: FacebookPage) -> dict[str, str]:
    """Folder → "refused" or "ignored", as last seen."""
    folders = (page.graph_findings or {}).get("folders") or {}
    return {
        folder: entry.get("state", "")
        for folder, entry in folders.items()
        if isinstance(entry, dict) and entry.get("state") in (REFUSED, IGNORED)
    }


def degraded_fields(page: FacebookPage) -> list[str]:
    """Fields Graph no longer has for this Page, which syncs stopped asking for."""
    return sorted((page.graph_findings or {}).get("fields") or {})


def one_call_tops_refused(page: FacebookPage) -> bool:
    """graph_probe found that Graph refuses the one-call read of all folders' tops."""
    probe = (page.graph_findings or {}).get("probe") or {}
    return probe.get("one_call_tops") == "refused"


def record_probe(page: FacebookPage, report: dict[str, Any]) -> None:
    """The last graph_probe report, whole."""
    with transaction.atomic():
        locked = FacebookPage.objects.select_for_update().only("graph_findings").get(pk=page.pk)
        findings = {**(locked.graph_findings or {}), "probe": report}
        FacebookPage.objects.filter(pk=page.pk).update(graph_findings=findings)
    page.graph_findings = findings


def record_folder(page: FacebookPage, folder: str, state: str, detail: str) -> None:
    _update(page, "folders", folder, {"state": state, "detail": detail[:300]})


def record_available_folder(page: FacebookPage, folder: str) -> None:
    """A folder Graph answered normally again is no longer listed as unavailable."""
    if folder in unavailable_folders(page):
        _update(page, "folders", folder, None)


def record_degraded_field(page: FacebookPage, field: str) -> None:
    _update(page, "fields", field, {})


def _update(page: FacebookPage, section: str, key: str, entry: dict[str, Any] | None) -> None:
    with transaction.atomic():
        locked = FacebookPage.objects.select_for_update().only("graph_findings").get(pk=page.pk)
        findings = dict(locked.graph_findings or {})
        items = dict(findings.get(section) or {})
        if entry is None:
            items.pop(key, None)
        else:
            items[key] = {**entry, "seen_at": timezone.now().isoformat()}
        findings[section] = items
        FacebookPage.objects.filter(pk=page.pk).update(graph_findings=findings)
    page.graph_findings = findings
