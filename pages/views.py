"""The Page screens and the sync controls. Thin: they record intent (a SyncRun) and hand the
work to the task queue; the engine never runs inside a request."""

from asgiref.sync import sync_to_async
from django import forms
from django.contrib import messages
from django.db.models import Count, OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from fbsync.access import can_use_inbox, inbox_access_required
from pages import panel, progress, streams
from pages.connect import Connected, ConnectError, connect_page
from pages.facebook_login import login_configured
from pages.graph.tokens import ADVANCED_ACCESS_NOTE
from pages.models import FacebookPage, SyncRun
from pages.retention_views import keeping_context
from pages.sync import runs
from pages.sync.runs import Start, SyncAlreadyRunning
from pages.tasks import PageCannotSync, queue_sync


@require_safe
@inbox_access_required
def page_list(request: HttpRequest) -> HttpResponse:
    latest_run = (
        SyncRun.objects.filter(page=OuterRef("pk"))
        .exclude(mode__in=SyncRun.BACKGROUND_MODES)
        .order_by("-created_at", "-id")
    )
    pages = FacebookPage.objects.annotate(
        conversation_count=Count("conversations"),
        latest_status=Subquery(latest_run.values("status")[:1]),
    ).order_by("name")
    context = {"pages": pages, "nav": "pages", "facebook_login": login_configured()}
    return render(request, "pages/page_list.html", context)


class ConnectForm(forms.Form):
    page_id = forms.CharField(
        label="Facebook page id", max_length=64, help_text="The numeric id of the Page."
    )
    access_token = forms.CharField(
        label="Page access token",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Checked with Facebook, then stored encrypted. It is never shown again.",
    )


@require_http_methods(["GET", "HEAD", "POST"])
@sensitive_post_parameters("access_token")
@inbox_access_required
def connect(request: HttpRequest) -> HttpResponse:
    # "Connect this Page" on a Page screen fills in the Page's id.
    form = ConnectForm(request.POST or None, initial={"page_id": request.GET.get("page_id", "")})
    if request.method == "POST" and form.is_valid():
        try:
            connected = connect_page(
                form.cleaned_data["page_id"], form.cleaned_data["access_token"]
            )
        except ConnectError as exc:
            form.add_error(None, str(exc))
        else:
            _tell_connected(request, connected, f"Connected {connected.page}.")
            return redirect("pages:detail", pk=connected.page.pk)
    login = login_configured()
    context = {
        "form": form,
        "nav": "pages",
        "advanced_access_note": ADVANCED_ACCESS_NOTE,
        "facebook_login": login,
        # The paste form is the advanced path: folded away unless it is the only one or in use.
        "show_paste": not login or form.is_bound or bool(request.GET.get("page_id")),
    }
    return render(request, "pages/connect.html", context)


def _tell_connected(request: HttpRequest, connected: Connected, done: str) -> None:
    """The success message, what the token is, and the notes (unverified permissions as a
    warning)."""
    messages.success(request, f"{done} {connected.check.summary}")
    for note in connected.check.notes:
        messages.warning(request, note)
    messages.info(request, ADVANCED_ACCESS_NOTE)


@require_safe
@inbox_access_required
def page_detail(request: HttpRequest, pk: int) -> HttpResponse:
    page = get_object_or_404(FacebookPage, pk=pk)
    # The stream starts after the last event published before this rendering: anything
    # published while the page loads is replayed, never lost (the browser keeps the newest).
    last_event = streams.current_event_id(page.pk)
    events_url = reverse("pages:events", args=[page.pk])
    context = {
        **panel.panel_context(page),
        "nav": "pages",
        "events_url": f"{events_url}?lastEventId={progress.channel_for(page.pk)}:{last_event}",
        "keeping": keeping_context(page, request.user),
    }
    return render(request, "pages/page_detail.html", context)


def _control_response(request: HttpRequest, page: FacebookPage, notice: str = "") -> HttpResponse:
    """What a press of a card button answers. htmx: only the notice (empty when it did what
    was asked): the card changes through the live stream, which every press publishes to, so
    the answer never depends on the pressed form still being on the screen. Plain form posts
    go back to the Page screen (with the notice as a message)."""
    if request.htmx:
        return HttpResponse(escape(notice))
    if notice:
        messages.info(request, notice)
    return redirect("pages:detail", pk=page.pk)


def _start(request: HttpRequest, pk: int, *, mode: Start) -> HttpResponse:
    page = get_object_or_404(FacebookPage, pk=pk)
    try:
        queue_sync(page, trigger=SyncRun.Trigger.WEB, mode=mode)
    except PageCannotSync as exc:
        notice = str(exc)
    except SyncAlreadyRunning:
        notice = "A sync of this page is already running."
    else:
        return _control_response(request, page)
    # The card may be behind (a second press before the first showed): bring it up to date.
    progress.publish(page.pk, final=True)
    return _control_response(request, page, notice)


@require_POST
@inbox_access_required
def start_sync(request: HttpRequest, pk: int) -> HttpResponse:
    """The next sync: a full one the first time, then incremental."""
    return _start(request, pk, mode=Start.NEXT)


@require_POST
@inbox_access_required
def full_sync(request: HttpRequest, pk: int) -> HttpResponse:
    """A full re-sync ("Start over", "Full re-sync"): every conversation walked again."""
    return _start(request, pk, mode=Start.FULL)


@require_POST
@inbox_access_required
def resume_sync(request: HttpRequest, pk: int) -> HttpResponse:
    return _start(request, pk, mode=Start.RESUME)


@require_POST
@inbox_access_required
def cancel_sync(request: HttpRequest, pk: int) -> HttpResponse:
    page = get_object_or_404(FacebookPage, pk=pk)
    runs.request_cancel(page)
    progress.publish(page.pk, final=True)
    return _control_response(request, page)


@require_POST
@sensitive_post_parameters("access_token")
@inbox_access_required
def reconnect(request: HttpRequest, pk: int) -> HttpResponse:
    page = get_object_or_404(FacebookPage, pk=pk)
    try:
        connected = connect_page(page.facebook_id, request.POST.get("access_token", ""))
    except ConnectError as exc:
        if request.htmx:
            return _control_response(request, page, str(exc))
        messages.error(request, str(exc))
        return redirect("pages:detail", pk=page.pk)
    done = "Reconnected. Resume the sync to continue where it stopped."
    _tell_connected(request, connected, done)
    progress.publish(page.pk, final=True)
    if request.htmx:
        # Reload the screen: it shows what Facebook said about the new token.
        return HttpResponseClientRedirect(reverse("pages:detail", args=[page.pk]))
    return redirect("pages:detail", pk=page.pk)


async def page_events(request: HttpRequest, pk: int) -> HttpResponse:
    """The page's live progress stream (SSE), for inbox staff only; a browser that reconnects
    replays what it missed through Last-Event-ID. See pages.streams for its limits."""
    user = await request.auser()
    if not await sync_to_async(can_use_inbox)(user):
        return HttpResponseForbidden("Staff with access to the inbox only.")
    page_exists = await FacebookPage.objects.filter(pk=pk).aexists()
    # The stream may stay open for hours: it must not keep the connection these lookups
    # opened in this request's thread.
    await sync_to_async(streams.close_db_connections)()
    if not page_exists:
        raise Http404("No such page.")
    return await streams.open_stream(request, pk, user)
