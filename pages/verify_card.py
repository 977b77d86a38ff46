"""What the Page screen's sync card says about a verify run (pages.sync.verify): what it is
doing ("Verifying: 120 of 250 conversations checked"), then what it found (the report's
summary and its first findings). States a verify shares with a sync (waiting for a worker,
paused, cancelling, reconnected) keep the card's own words: `verify_card` leaves them out.
"""

from __future__ import annotations

from pages.models import SyncRun
from pages.sync.verify_report import VerifyReport

S = SyncRun.Status
VERIFY_MODES = (SyncRun.Mode.VERIFY, SyncRun.Mode.REPAIR)
# Findings listed on the card (the admin's run shows the report's first 20).
FINDINGS_SHOWN = 5


def verify_card(run: SyncRun | None, state: str) -> dict | None:
    """The card's title, status line and findings for a verify run; None for other runs.
    `title` or `status` is empty where the card's usual words fit (`state` as the card
    has it: pages.panel.card_state)."""
    if run is None or run.mode not in VERIFY_MODES:
        return None
    report = VerifyReport.from_json(run.report)
    repair = run.mode == SyncRun.Mode.REPAIR
    what = "Verify and repair" if repair else "Verify"
    checked = f"{report.checked:,} of {(run.total or report.listed):,}"
    title, icon, status = "", "", ""
    if state in ("queued", "busy"):
        title, icon = f"{what} queued", "⏳"
    elif state == "running":
        title = "Verifying and repairing" if repair else "Verifying against Facebook"
        if report.phase == "listing":
            status = f"Reading Facebook's list of conversations: {report.listed:,} so far…"
        else:
            status = f"Verifying: {checked} conversations checked"
    elif state == "complete":
        title, icon = _complete_title(report, repair)
        status = report.summary()
    elif state in ("cancelled", "interrupted"):
        title, icon = f"{what} {state}", "⚠️"
        status = run.error or f"Stopped after {checked} conversations were checked."
    elif state == "failed":
        title, icon = f"{what} failed", "❌"
        status = f"Stopped after {checked} conversations were checked."
    return {
        "title": title,
        "icon": icon,
        "status": status,
        "repair": repair,
        # Reading Facebook's list: no conversation checked yet, none to count.
        "listing": state == "running" and report.phase == "listing",
        "findings": _findings(report) if state == "complete" else [],
        "more": max(
            report.missingConversations + report.conversationsMissingMessages - FINDINGS_SHOWN, 0
        )
        if state == "complete"
        else 0,
    }


def _complete_title(report: VerifyReport, repair: bool) -> tuple[str, str]:
    if not report.found and not report.unreadable:
        return "Verified: nothing missing", "✅"
    if repair and not report.outstanding:
        return "Repaired: nothing missing any more", "✅"
    if repair:
        return "Repaired in part", "⚠️"
    return "Verify found missing data", "⚠️"


def _findings(report: VerifyReport) -> list[dict[str, str]]:
    out = []
    for example in report.examples[:FINDINGS_SHOWN]:
        if example.get("missing") == "conversation":
            text = "not stored"
        else:
            count = int(example.get("messages", 0))
            text = f"{count:,} message{'' if count == 1 else 's'} missing"
        if "repaired" in example:
            text += " (repaired)"
        out.append({"id": str(example.get("id", "")), "text": text})
    return out
