"""A kept attachment, for inbox staff only (fbsync.access): the stored bytes under the type
they were checked to be, inline for pictures and stickers, as a download for everything
else, and never sniffed by the browser."""

from __future__ import annotations

from django.core.files.storage import storages
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe

from fbsync.access import inbox_access_required
from media.models import MediaAttachment

INLINE_KINDS = ("image", "sticker")


@require_safe
@inbox_access_required
def media_file(request: HttpRequest, pk: int) -> FileResponse:
    row = get_object_or_404(
        MediaAttachment.objects.select_related("file"),
        pk=pk,
        state=MediaAttachment.State.STORED,
    )
    if row.file is None:
        raise Http404("This attachment is not stored.")
    try:
        handle = storages["default"].open(row.file.storage_name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404("This file is missing from the storage.") from None
    extension = (
        "." + row.file.storage_name.rsplit(".", 1)[-1] if "." in row.file.storage_name else ""
    )
    filename = row.name or f"{row.kind}-{row.pk}{extension}"
    response = FileResponse(
        handle,
        as_attachment=row.kind not in INLINE_KINDS,
        filename=filename,
        content_type=row.file.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=86400"
    return response
