"""Meta's deauthorize and data-deletion callbacks (server to server: no session, no CSRF
token; the `signed_request` is verified before anything in it is read or stored), and the
public status page of a deletion request (its unguessable code is the only key)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from privacy import callbacks
from privacy.models import DeletionRequest
from webhooks.signatures import BadSignature, parse_signed_request

logger = logging.getLogger(__name__)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _verified_user_id(request: HttpRequest, callback: str) -> str:
    """The user id of a genuine signed request; _Refused for anything else."""
    try:
        payload = parse_signed_request(
            request.POST.get("signed_request"), settings.FACEBOOK_APP_SECRET
        )
        return callbacks.user_id_of(payload)
    except BadSignature as exc:
        logger.warning("%s callback refused: %s", callback, exc)
        raise _Refused(403, "The signed_request is not valid.") from None
    except callbacks.BadCallback as exc:
        logger.warning("%s callback refused: %s", callback, exc)
        raise _Refused(400, str(exc)) from None


def _callback(name: str, act: Callable[[HttpRequest, str], JsonResponse]):
    """A callback view: POST only, no CSRF token (Meta's server has no session), verified
    first; a database failure rolls everything back and says so."""

    @csrf_exempt
    @require_POST
    @sensitive_post_parameters("signed_request")
    def view(request: HttpRequest) -> HttpResponse:
        try:
            return act(request, _verified_user_id(request, name))
        except _Refused as refused:
            return JsonResponse({"error": str(refused)}, status=refused.status)
        except DatabaseError as exc:
            # The error's kind only: a database's message can quote the values (ids).
            logger.error("%s callback failed (%s); nothing was changed", name, type(exc).__name__)
            return JsonResponse(
                {"error": "The request could not be carried out; nothing was changed."},
                status=500,
            )

    return view


def _deauthorize(request: HttpRequest, user_id: str) -> JsonResponse:
    page_ids = callbacks.deauthorize(user_id)
    return JsonResponse({"pages_disconnected": len(page_ids)})


def _data_deletion(request: HttpRequest, user_id: str) -> JsonResponse:
    deletion = callbacks.delete_user_data(user_id)
    code = deletion.confirmation_code
    status_url = request.build_absolute_uri(reverse("privacy:deletion_status", args=[code]))
    return JsonResponse({"url": status_url, "confirmation_code": code})


deauthorize = _callback("Deauthorize", _deauthorize)
data_deletion = _callback("Data-deletion", _data_deletion)


@require_safe
def deletion_status(request: HttpRequest, code: str) -> HttpResponse:
    """Public: what became of a deletion request, in counts only."""
    deletion = get_object_or_404(DeletionRequest, confirmation_code=code)
    return render(request, "privacy/deletion_status.html", {"deletion": deletion})
