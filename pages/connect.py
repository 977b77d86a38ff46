"""Connecting a Page: ask Graph what the token is (pages.graph.tokens) and store it
(encrypted) only when it is a Page token fbsync can use."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from pages.graph.tokens import ADVANCED_ACCESS_NOTE, TokenCheck, inspect_token
from pages.models import FacebookPage

# Graph's tokens are letters and digits (app tokens add `|`; we also allow - _ .). Anything
# else (a line break, a space, a quote pasted along) is refused before it reaches a request
# header or an error message.
TOKEN_ALPHABET = re.compile(r"[A-Za-z0-9_.|-]{1,2048}")


class ConnectError(Exception):
    """The token or page id was refused; the message is safe to show (no token in it)."""


@dataclass(frozen=True)
class Connected:
    """A stored Page and what Graph said about its token."""

    page: FacebookPage
    check: TokenCheck

    @property
    def verified(self) -> bool:
        return self.check.verified

    @property
    def notes(self) -> list[str]:
        """What to tell the person who connected it: what the token is, whether its
        permissions could be verified, and the Advanced Access caveat no error will show."""
        return [self.check.summary, *self.check.notes, ADVANCED_ACCESS_NOTE]


@sensitive_variables("access_token")
def connect_page(facebook_id: str, access_token: str, facebook_user_id: str = "") -> Connected:
    """Ask Graph what the token is (`debug_token` with the app token when FACEBOOK_APP_ID and
    FACEBOOK_APP_SECRET are set, else `GET /{page-id}?fields=id,name`) and refuse it with the
    reason (nothing stored) unless it is a usable Page token of this Page; then store or update
    the page. A new token clears "needs reconnect", and the errors of runs that failed before
    it (`connected_at`). `facebook_user_id`: whose Facebook Login gave the token ("" for a
    pasted one, which belongs to no Login the privacy callbacks could name)."""
    facebook_id = facebook_id.strip()
    access_token = access_token.strip()
    if not facebook_id.isdigit():
        raise ConnectError("A Facebook page id is a number, e.g. 100200300400500.")
    if not access_token:
        raise ConnectError("The access token is empty.")
    if not TOKEN_ALPHABET.fullmatch(access_token):
        raise ConnectError(
            "That is not an access token: a token is one word of letters and digits. "
            "Copy it again, without spaces or line breaks."
        )
    check = inspect_token(access_token, facebook_id)
    if not check.ok:
        raise ConnectError(check.refusal)
    with transaction.atomic():
        page, _ = FacebookPage.objects.select_for_update().get_or_create(facebook_id=facebook_id)
        page.name = check.page_name
        page.access_token = access_token
        page.token_status = FacebookPage.TokenStatus.OK
        page.token_error = ""
        page.connected_at = timezone.now()
        page.facebook_user_id = facebook_user_id
        page.save()
    return Connected(page, check)
