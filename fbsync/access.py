"""Who may see what: every screen and stream that shows or changes inbox data is for
logged-in, active staff who hold the "Can view conversation" permission
(`conversations.view_conversation`; superusers hold every permission). Being staff alone
only opens the admin as far as Django's own permissions allow.

Anyone else who is logged in gets the styled 403 page (templates/403.html), which says why and
offers to log out: a person who logged in with the wrong account is not stuck."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

INBOX_PERMISSION = "conversations.view_conversation"


def can_use_inbox(user) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(INBOX_PERMISSION)
    )


def inbox_access(request: HttpRequest) -> dict[str, Callable[[], bool]]:
    """Template context: `can_use_inbox`, evaluated only where a template asks (the header's
    navigation, the 403 page's explanation). A callable, so pages that never ask pay
    nothing."""
    return {"can_use_inbox": lambda: can_use_inbox(getattr(request, "user", None))}


def inbox_access_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users are sent to the login page; anyone else without inbox access gets
    403 (Django's handler renders templates/403.html, which explains it to them)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not can_use_inbox(request.user):
            raise PermissionDenied("Staff with access to the inbox only.")
        return view(request, *args, **kwargs)

    return wrapper
