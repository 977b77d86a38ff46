"""What a file is, from its bytes (magic numbers, the `filetype` library), and whether we keep
it: the type must be in MEDIA_ALLOWED_TYPES and agree with what the attachment said it was.
A picture that turns out to be an HTML page is refused, never stored."""

from __future__ import annotations

from dataclasses import dataclass

import filetype
from django.conf import settings

HEAD_BYTES = 8192  # enough for every signature filetype reads (it needs 262)
OOXML = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
}
# What each attachment kind may turn out to be (a voice clip often comes as an MP4).
KIND_FAMILIES = {
    "image": ("image/",),
    "sticker": ("image/",),
    "video": ("video/",),
    "audio": ("audio/", "video/mp4"),
}


@dataclass(frozen=True)
class Verdict:
    content_type: str | None  # the checked type, when kept
    extension: str = ""
    reason: str = ""  # why it is refused


def _family_ok(content_type: str, families: tuple[str, ...]) -> bool:
    return any(content_type.startswith(f) or content_type == f for f in families)


def check(head: bytes, kind: str, claimed: str) -> Verdict:
    """The verdict on a file whose first bytes are `head`, sent as attachment `kind` with
    the type `claimed` (the response's Content-Type, else the attachment's mime_type)."""
    guess = filetype.guess(head)
    if guess is None:
        return Verdict(None, reason="its content is not a type we keep")
    content_type, extension = guess.mime, f".{guess.extension}"
    claimed = claimed.split(";")[0].strip().lower()
    if content_type == "application/zip" and claimed in OOXML:
        content_type, extension = claimed, OOXML[claimed]  # an Office file is a ZIP
    if content_type not in settings.MEDIA_ALLOWED_TYPES:
        return Verdict(None, reason=f"{content_type} is not a type we keep")
    families = KIND_FAMILIES.get(kind)
    if families and not _family_ok(content_type, families):
        return Verdict(None, reason=f"it claims to be {kind} but its content is {content_type}")
    major = claimed.split("/")[0]
    voice_clip = major == "audio" and content_type == "video/mp4"
    mismatch = major in ("image", "video", "audio") and content_type.split("/")[0] != major
    if mismatch and not voice_clip:
        return Verdict(None, reason=f"it claims {claimed} but its content is {content_type}")
    return Verdict(content_type, extension)
