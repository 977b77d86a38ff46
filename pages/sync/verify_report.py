"""What a verify run found (`SyncRun.report`): counts, the first conversations with what each
lacks, and the same in words for the run's message, the card and the command.

A plain dataclass kept as JSON on the run (camelCase keys, like the checkpoint's). No
database or network here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from pages.models import SyncRun
from pages.sync.outcome import Outcome

S = SyncRun.Status

# The report lists this many conversations with what each lacks (all of them are counted).
MAX_EXAMPLES = 20


@dataclass
class VerifyReport:
    repair: bool = False
    # "listing" (reading Facebook's list of conversations), "checking", then "done".
    phase: str = "listing"
    # Conversations Facebook lists (read so far, while listing), and how many were checked.
    listed: int = 0
    checked: int = 0
    stored: int = 0  # conversations stored for the Page when the check began
    # What is missing: conversations Facebook lists that are not stored, and messages of
    # stored conversations (in how many conversations).
    missingConversations: int = 0
    missingMessages: int = 0
    conversationsMissingMessages: int = 0
    # What a repair stored: missing conversations (with their newest messages), and missing
    # messages of stored conversations.
    repairedConversations: int = 0
    repairedMessages: int = 0
    # Messages read from Facebook again that were already stored (not stored twice).
    duplicatesPrevented: int = 0
    # Not missing, said for completeness:
    # conversations that changed on Facebook after the last sync (its next run brings them),
    changedSinceSync: int = 0
    # threads the history backfill has not completed: only their newest messages are expected,
    historyIncomplete: int = 0
    # threads that go on past the Page's retention (older messages deleted on purpose),
    pastRetention: int = 0
    # conversations of people whose data was erased on request (never stored again),
    erased: int = 0
    # stored conversations Facebook no longer lists (deleted there, or in a hidden folder),
    notOnFacebook: int = 0
    # conversations Facebook would not give (each with its reason in `problems`).
    unreadable: int = 0
    # The first conversations with something missing: {"id", "missing": "conversation"} or
    # {"id", "missing": "messages", "messages": n}, with "repaired": n after a repair.
    examples: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Any) -> VerifyReport:
        if not isinstance(data, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return cls()

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}

    @property
    def found(self) -> int:
        """Conversations and messages found missing."""
        return self.missingConversations + self.missingMessages

    @property
    def outstanding(self) -> int:
        """What is missing and was not repaired (or could not be read)."""
        conversations = max(self.missingConversations - self.repairedConversations, 0)
        messages = max(self.missingMessages - self.repairedMessages, 0)
        return conversations + messages + self.unreadable

    def note_missing_conversation(self, conversation_id: str) -> dict[str, Any]:
        self.missingConversations += 1
        return self._example({"id": conversation_id, "missing": "conversation"})

    def note_missing_messages(self, conversation_id: str, count: int) -> dict[str, Any]:
        self.missingMessages += count
        self.conversationsMissingMessages += 1
        return self._example({"id": conversation_id, "missing": "messages", "messages": count})

    def note_problem(self, conversation_id: str, error: str) -> None:
        self.unreadable += 1
        if len(self.problems) < MAX_EXAMPLES:
            self.problems.append({"id": conversation_id[:100], "error": error[:300]})

    def _example(self, example: dict[str, Any]) -> dict[str, Any]:
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(example)
        return example

    def summary(self) -> str:
        """The findings in one or two sentences."""
        checked = f"{self.checked:,} of {self.listed:,} conversations checked"
        if self.phase != "done":
            return f"{checked} so far."
        if not self.found and not self.unreadable:
            text = f"Nothing missing: {checked}."
        else:
            missing = _and(
                _count(self.missingConversations, "conversation"),
                _count(self.missingMessages, "message")
                + (
                    f" in {_count(self.conversationsMissingMessages, 'conversation')}"
                    if self.missingMessages
                    else ""
                ),
            )
            text = f"Missing: {missing} ({checked})." if missing else f"{checked.capitalize()}."
            if self.repair and self.found:
                repaired = _and(
                    _count(self.repairedConversations, "conversation"),
                    _count(self.repairedMessages, "message"),
                )
                text += f" Repaired: {repaired or 'nothing'}"
                text += f", {self.duplicatesPrevented:,} duplicates prevented."
            if self.unreadable:
                text += f" {_count(self.unreadable, 'conversation')} could not be read."
        notes = [
            f"{_count(self.changedSinceSync, 'conversation')} changed since the last sync"
            + (" (brought up to date)" if self.repair else "")
            if self.changedSinceSync
            else "",
            f"{_count(self.historyIncomplete, 'conversation')} without full history yet"
            if self.historyIncomplete
            else "",
            f"{_count(self.notOnFacebook, 'stored conversation')} no longer on Facebook"
            if self.notOnFacebook
            else "",
        ]
        if notes := [n for n in notes if n]:
            text += " Not counted as missing: " + "; ".join(notes) + "."
        return text

    def lines(self) -> list[str]:
        """The summary, then one line per example (the command's report)."""
        out = [self.summary()]
        for example in self.examples:
            if example["missing"] == "conversation":
                what = "conversation not stored"
            else:
                what = f"{_count(example['messages'], 'message')} missing"
            if "repaired" in example:
                what += f", {example['repaired']:,} repaired"
            out.append(f"  {example['id']}: {what}")
        more = self.missingConversations + self.conversationsMissingMessages - len(self.examples)
        if more > 0:
            out.append(f"  …and {more:,} more")
        out.extend(f"  {p['id']}: could not be read ({p['error']})" for p in self.problems)
        return out


def in_words(outcome: Outcome, checked: int, total: int) -> str:
    """How a verify ended, in outcome_of's words made true for a run that keeps no
    position: a stopped verify starts again from the beginning."""
    if outcome.status in (S.CANCELLED, S.INTERRUPTED):
        stopped = "Stopped by a shutdown" if "shutdown" in outcome.message else None
        return (
            f"{stopped or S(outcome.status).label} after {checked:,} of {total:,} conversations "
            "were checked; a new verify starts from the beginning."
        )
    return (
        outcome.message.replace("Progress is saved; resume later.", "Verify again later.")
        .replace("then resume: progress is saved.", "then verify again.")
        .replace("Progress is saved: resume after", "Verify again after")
    )


def _count(n: int, noun: str) -> str:
    if not n:
        return ""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _and(*parts: str) -> str:
    return " and ".join(p for p in parts if p)
