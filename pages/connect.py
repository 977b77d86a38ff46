"""Connecting a Page: check a token against Graph and store it (encrypted)."""

from __future__ import annotations

import re

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from pages.graph.client import GraphClient
from pages.graph.errors import GraphError, TokenError
from pages.models import FacebookPage

# Graph's tokens are letters and digits (app tokens add `|`; we also allow - _ .). Anything
# else (a line break, a space, a quote pasted along) is refused before it reaches a request
# header or an error message.
TOKEN_ALPHABET = re.compile(r"[A-Za-z0-9_.|-]{1,2048}")


class ConnectError(Exception):
    """The token or page id was refused; the message is safe to show (no token in it)."""


@sensitive_variables("access_token")
def connect_page(facebook_id: str, access_token: str) -> FacebookPage:
    """Check the token with `GET /{page-id}?fields=id,name`, then store or update the page.
    A new token clears "needs reconnect"."""
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
    client = GraphClient.for_page(FacebookPage(facebook_id=facebook_id), token=access_token)
    try:
        info = client.get_page(facebook_id)
    except TokenError as exc:
        raise ConnectError(f"Facebook rejected the access token: {exc}") from None
    except GraphError as exc:
        raise ConnectError(f"Could not check the token with Facebook: {exc}") from None
    finally:
        client.session.close()
    if str(info.get("id")) != facebook_id:
        raise ConnectError("The token does not belong to this page.")
    with transaction.atomic():
        page, _ = FacebookPage.objects.select_for_update().get_or_create(facebook_id=facebook_id)
        page.name = str(info.get("name") or "")[:255]
        page.access_token = access_token
        page.token_status = FacebookPage.TokenStatus.OK
        page.token_error = ""
        page.save()
    return page
