"""The screens of "Connect with Facebook" (Facebook Login). Thin: the flow is
pages/facebook_login.py, connecting the picked Pages pages/login_connect.py. Every failure ends
on the Pages screen with its message; nothing is stored before the person picks their Pages."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from fbsync.access import inbox_access_required
from pages import facebook_login
from pages.facebook_login import PICKER_GONE, LoginError
from pages.graph.tokens import ADVANCED_ACCESS_NOTE
from pages.login_connect import NothingChosen, PageResult, connect_chosen
from pages.models import FacebookPage


def redirect_uri(request: HttpRequest) -> str:
    """The exact URI Facebook sends the person back to (the dialog and the code exchange must
    name the same one): the setting behind a proxy, else this server's own URL."""
    configured = settings.FACEBOOK_LOGIN_REDIRECT_URI
    return configured or request.build_absolute_uri(reverse("pages:facebook_callback"))


@require_safe
@inbox_access_required
def start(request: HttpRequest) -> HttpResponse:
    """A link, not a form: a form's redirect to Facebook would break the CSP's form-action."""
    try:
        url = facebook_login.begin(request.session, redirect_uri(request))
    except LoginError as exc:
        messages.error(request, str(exc))
        return redirect("pages:list")
    return HttpResponseRedirect(url)


@require_safe
@inbox_access_required
def callback(request: HttpRequest) -> HttpResponse:
    try:
        facebook_login.complete(request.session, request.GET)
    except LoginError as exc:
        messages.error(request, str(exc))
        return redirect("pages:list")
    return redirect("pages:facebook_pages")


@require_http_methods(["GET", "HEAD", "POST"])
@inbox_access_required
def choose_pages(request: HttpRequest) -> HttpResponse:
    """The picker: every Page Facebook listed, the ones that can be connected ticked."""
    picker = facebook_login.saved_picker(request.session)
    if picker is None:
        messages.error(request, PICKER_GONE)
        return redirect("pages:list")
    error = ""
    if request.method == "POST":
        if "cancel" in request.POST:
            facebook_login.drop_picker(request.session)
            messages.info(request, "Nothing was connected.")
            return redirect("pages:list")
        first_sync = request.POST.get("first_sync") == "on"
        try:
            results = connect_chosen(
                request.session, request.POST.getlist("page"), first_sync=first_sync
            )
        except NothingChosen as exc:
            error = str(exc)
        except LoginError as exc:
            messages.error(request, str(exc))
            return redirect("pages:list")
        else:
            tell_results(request, results)
            return redirect("pages:list")
    ids = [page.facebook_id for page in picker.pages]
    connected = set(
        FacebookPage.objects.filter(facebook_id__in=ids)
        .exclude(encrypted_access_token="")
        .values_list("facebook_id", flat=True)
    )
    rows = [{"page": page, "connected": page.facebook_id in connected} for page in picker.pages]
    context = {"picker": picker, "rows": rows, "error": error, "nav": "pages"}
    return render(request, "pages/facebook_pages.html", context)


def tell_results(request: HttpRequest, results: list[PageResult]) -> None:
    for result in results:
        if result.connected is None:
            messages.error(request, f"{result.name} was not connected: {result.refusal}")
            continue
        messages.success(request, f"Connected {result.name}. {result.connected.check.summary}")
        for note in result.connected.check.notes:
            messages.warning(request, f"{result.name}: {note}")
        if result.webhook_problem:
            messages.warning(request, f"{result.name} is connected. {result.webhook_problem}")
        if result.sync_queued:
            messages.info(request, f"The first sync of {result.name} is queued.")
        elif result.sync_problem:
            messages.warning(request, f"No sync of {result.name} was queued: {result.sync_problem}")
    if any(result.connected for result in results):
        messages.info(request, ADVANCED_ACCESS_NOTE)
