"""The Page screen's download of its export (conversations.export, docs/export.md)."""

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET

from conversations import export
from fbsync.access import inbox_access_required
from pages.models import FacebookPage


@require_GET
@inbox_access_required
def export_page(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in export.FORMATS:
        raise Http404("No such export format.")
    page = get_object_or_404(FacebookPage, pk=pk)
    since = request.GET.get("since")
    try:
        moment = export.parse_since(since) if since else None
    except export.BadSince as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    chunks = export.batched(export.export_lines(page, fmt, moment))
    # Under ASGI Django would read a plain iterator whole before sending a byte; an async one
    # is sent as it is read, each chunk's queries in the request's sync thread.
    content = _async_chunks(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(content, content_type=export.CONTENT_TYPES[fmt])
    filename = export.export_filename(page, fmt, timezone.now())
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    end = object()
    while (chunk := await sync_to_async(next)(chunks, end)) is not end:
        yield chunk
