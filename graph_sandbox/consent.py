"""Facebook Login's dialog (on Meta: www.facebook.com): its checks, the person's answer (a
code for the app, or Meta's error parameters), and its pages, served by the WSGI app:

* ``GET /dialog/oauth`` and ``GET /{vNN.N}/dialog/oauth``: the consent page — the app's name,
  a checkbox per permission asked (unticked = declined), a checkbox per Page of the user
  (ticked = granted), Continue and Cancel. A wrong ``client_id`` or a ``redirect_uri`` the app
  does not allow gets an error page (HTTP 400) and never a redirect.
* ``POST /dialog/oauth/confirm``: the form's answer (the dialog's parameters again, hidden,
  checked again; ``grant`` = each permission ticked, ``page`` = each Page ticked, ``action``)
  → 302 to ``redirect_uri`` (:meth:`DialogControls.confirm_dialog`).
* ``GET /_sandbox/picture/{page-id}.png``: the Page's picture (a small generated PNG).

Plain HTML with its CSS inline (the sandbox's page, no external assets). Stable ids for
browser tests: ``#continue``, ``#cancel``, ``#scope-{name}``, ``#page-{id}``; each Page's
checkbox is labelled with the Page's name.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import struct
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from .debug_token import APPLICATION, DEFAULT_SCOPES

if TYPE_CHECKING:
    from .dataset import Dataset
    from .debug_token import TokenRegistry
    from .faults import FaultConfig
    from .oauth import LoginRegistry
    from .sandbox import Sandbox

ALWAYS_GRANTED = "public_profile"  # Login always grants it; it is never a checkbox
KNOWN_SCOPES = frozenset(
    {
        ALWAYS_GRANTED, "email", "pages_show_list", "pages_messaging", "pages_read_engagement",
        "pages_manage_metadata", "pages_manage_posts", "pages_manage_engagement",
        "pages_read_user_content", "pages_manage_ads", "read_insights", "business_management",
        "instagram_basic", "instagram_manage_messages",
    }
)  # fmt: skip
URL_BLOCKED = (
    "URL Blocked: This redirect failed because the redirect URI is not whitelisted in the "
    "app's Client OAuth Settings. Make sure Client and Web OAuth Login are on and add all your "
    "app domains as Valid OAuth Redirect URIs."
)

DIALOG_RE = re.compile(r"^(?:/v\d+\.\d+)?/dialog/oauth/?$")
CONFIRM_PATH = "/dialog/oauth/confirm"
PICTURE_RE = re.compile(r"^/_sandbox/picture/(\d+)\.png$")
PICTURE_SIZE = 50
HTML_TYPE = "text/html; charset=utf-8"
SCOPE_TEXT = {
    "pages_show_list": "Show a list of the Pages you manage",
    "pages_messaging": "Manage and access Page conversations in Messenger",
    "pages_read_engagement": "Read content posted on the Page",
    "pages_manage_metadata": "Manage accounts, settings and webhooks for a Page",
    "email": "Your email address",
    "business_management": "Manage your business",
}
STYLE = """
body{font:16px/1.45 system-ui,sans-serif;margin:0;background:#f0f2f5;color:#1c1e21}
main{max-width:34rem;margin:1.5rem auto;background:#fff;padding:1.25rem;border-radius:8px}
h1{font-size:1.3rem;margin:0 0 .5rem}fieldset{border:1px solid #ccd0d5;border-radius:6px;
margin:1rem 0;padding:.5rem 1rem}legend{font-weight:600;padding:0 .25rem}
.choice{display:flex;gap:.6rem;align-items:center;padding:.35rem 0}
.choice input{width:1.25rem;height:1.25rem;flex:none}.choice img{border-radius:4px;flex:none}
code{font-size:.85em;color:#606770}.actions{display:flex;gap:.75rem;flex-wrap:wrap}
button{font:inherit;padding:.55rem 1.4rem;border-radius:6px;border:1px solid #ccd0d5;
background:#e4e6eb;cursor:pointer}button#continue{background:#1877f2;color:#fff;border-color:
#1877f2}button:focus-visible,input:focus-visible{outline:3px solid #0a58ca;outline-offset:2px}
"""


class LoginError(ValueError):
    """A dialog Meta refuses to open: shown on an error page, never redirected."""


@dataclass(frozen=True)
class Dialog:
    """One opened Login dialog: what the app asked for."""

    client_id: str
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]  # asked for, in order, without public_profile
    config_id: str | None = None


@dataclass(frozen=True)
class Grant:
    """What one person granted in one consent."""

    user_id: str
    asked: tuple[str, ...]
    granted: tuple[str, ...]  # public_profile included
    page_ids: tuple[str, ...]

    def permissions(self) -> list[dict[str, str]]:
        rows = [
            {"permission": s, "status": "granted" if s in self.granted else "declined"}
            for s in self.asked
        ]
        return [*rows, {"permission": ALWAYS_GRANTED, "status": "granted"}]


@dataclass
class Code:
    grant: Grant
    redirect_uri: str
    issued: float  # the sandbox's monotonic clock
    used: bool = False


def name_list(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else list(value)
    if not all(isinstance(item, str) for item in items):
        raise ValueError(f"expected names, got {value!r}")
    return tuple(dict.fromkeys(item.strip() for item in items if item.strip()))


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    # Meta appends "#_=_" to the redirect after Login (a long-standing quirk; harmless)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, "_=_"))


class DialogControls:
    """The dialog's checks, its answer and the ``oauth_consent`` control, mixed into
    :class:`graph_sandbox.Sandbox` (through :class:`graph_sandbox.oauth.LoginControls`)."""

    lock: threading.RLock
    clock: Callable[[], float]
    config: FaultConfig
    dataset: Dataset
    tokens: TokenRegistry
    login: LoginRegistry

    # -- the dialog -------------------------------------------------------------------------

    def open_dialog(self, params: Mapping[str, str | None]) -> Dialog:
        """Check a dialog request as Meta does before showing anything (raises LoginError)."""
        client_id = params.get("client_id") or ""
        if client_id != self.tokens.app_id:
            raise LoginError(
                "Invalid App ID: The provided app ID does not look like a valid app ID."
            )
        redirect_uri = params.get("redirect_uri") or ""
        allowed = self.config.oauth_redirect_uris
        scheme = urlsplit(redirect_uri).scheme
        if scheme not in ("http", "https") or (
            allowed is not None and redirect_uri not in name_list(allowed)
        ):
            raise LoginError(URL_BLOCKED)
        if (params.get("response_type") or "code") != "code":
            raise LoginError("The sandbox serves response_type=code only.")
        asked = name_list(params.get("scope"))
        invalid = sorted(set(asked) - KNOWN_SCOPES)
        if invalid:
            raise LoginError(f"Invalid Scopes: {', '.join(invalid)}.")
        config_id = params.get("config_id") or None
        if config_id and not asked:  # Login for Business: the configuration's permissions
            asked = DEFAULT_SCOPES
        scopes = tuple(s for s in asked if s != ALWAYS_GRANTED)
        return Dialog(client_id, redirect_uri, params.get("state"), scopes, config_id)

    def confirm_dialog(
        self,
        dialog: Dialog,
        scopes: list[str] | tuple[str, ...] | str | None,
        page_ids: list[str] | tuple[str, ...] | str | None,
        approve: bool,
    ) -> str:
        """The person's answer → the URL Meta redirects the browser to."""
        state = {"state": dialog.state} if dialog.state is not None else {}
        if not approve:
            return _with_query(
                dialog.redirect_uri,
                {
                    "error": "access_denied",
                    "error_code": "200",
                    "error_description": "Permissions error",
                    "error_reason": "user_denied",
                    **state,
                },
            )
        granted = dialog.scopes if scopes is None else name_list(scopes)
        not_asked = sorted(set(granted) - set(dialog.scopes) - {ALWAYS_GRANTED})
        if not_asked:
            raise LoginError(f"not asked for: {', '.join(not_asked)}")
        with self.lock:
            pages = list(self.dataset.pages) if page_ids is None else name_list(page_ids)
            unknown = [pid for pid in pages if pid not in self.dataset.pages]
            if unknown:
                raise LoginError(f"unknown page(s): {', '.join(unknown)}")
            grant = Grant(
                self.tokens.user_id,
                dialog.scopes,
                (*(s for s in dialog.scopes if s in granted), ALWAYS_GRANTED),
                tuple(pages),
            )
            code = "AQ" + secrets.token_urlsafe(96)
            self.login.codes[code] = Code(grant, dialog.redirect_uri, self.clock())
        return _with_query(dialog.redirect_uri, {"code": code, **state})

    # -- control ----------------------------------------------------------------------------

    def oauth_consent(
        self,
        client_id: str,
        redirect_uri: str,
        state: str | None = None,
        scopes: list[str] | str | None = None,
        page_ids: list[str] | str | None = None,
        approve: bool = True,
        asked: list[str] | str | None = None,
        config_id: str | None = None,
    ) -> str:
        """The dialog without its HTML: the app asked for ``asked`` (default: the four Page
        permissions), the person grants ``scopes`` (None: all asked) and ``page_ids`` (None:
        every Page) or cancels (``approve=False``). Returns the redirect URL."""
        scope = ",".join(name_list(asked)) if asked is not None else ",".join(DEFAULT_SCOPES)
        params = {"client_id": client_id, "redirect_uri": redirect_uri, "state": state}
        dialog = self.open_dialog({**params, "scope": scope, "config_id": config_id})
        return self.confirm_dialog(dialog, scopes, page_ids, bool(approve))


def serve(
    sandbox: Sandbox, path: str, method: str, environ: dict[str, Any]
) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """Answer one of Login's pages, or None when ``path`` is none of them."""
    picture = PICTURE_RE.match(path)
    if picture and method == "GET":
        if picture.group(1) not in sandbox.dataset.pages:
            return 404, [("Content-Type", "text/plain")], b"no such page"
        return 200, [("Content-Type", "image/png")], picture_png(picture.group(1))
    if DIALOG_RE.match(path) and method == "GET":
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        return _page(lambda: dialog_html(sandbox, sandbox.open_dialog(_single(query))))
    if path.rstrip("/") == CONFIRM_PATH and method == "POST":
        return _page(lambda: _confirm(sandbox, _form(environ)))
    return None


def _page(render: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """200 with the page (or 302 when ``render`` answers a URL); an error page for LoginError."""
    headers = [("Cache-Control", "no-store")]
    try:
        answer = render()
    except LoginError as exc:
        body = error_html(str(exc))
        return 400, [("Content-Type", HTML_TYPE), *headers], body.encode()
    if isinstance(answer, tuple):  # ("redirect", url)
        return 302, [("Location", answer[1]), *headers], b""
    return 200, [("Content-Type", HTML_TYPE), *headers], answer.encode()


def _single(values: dict[str, list[str]]) -> dict[str, str]:
    return {name: items[0] for name, items in values.items()}


def _form(environ: dict[str, Any]) -> dict[str, list[str]]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length).decode("utf-8", "replace") if length else ""
    return parse_qs(raw, keep_blank_values=True)


def _confirm(sandbox: Sandbox, form: dict[str, list[str]]) -> tuple[str, str]:
    """The form checked again as a new dialog (never trust the hidden fields), then answered."""
    fields = _single(form)
    dialog = sandbox.open_dialog(fields)
    approve = fields.get("action") == "continue"
    url = sandbox.confirm_dialog(dialog, form.get("grant", []), form.get("page", []), approve)
    return ("redirect", url)


def dialog_html(sandbox: Sandbox, dialog: Dialog) -> str:
    with sandbox.lock:
        user = sandbox.login.user_name
        pages = [(page.id, page.name) for page in sandbox.dataset.pages.values()]
    hidden = {
        "client_id": dialog.client_id,
        "redirect_uri": dialog.redirect_uri,
        "scope": ",".join(dialog.scopes),
        "state": dialog.state,
        "config_id": dialog.config_id,
    }
    hidden_inputs = "".join(
        f'<input type="hidden" name="{name}" value="{escape(value)}">'
        for name, value in hidden.items()
        if value is not None
    )
    scopes = "".join(
        f'<div class="choice"><input type="checkbox" id="scope-{escape(scope)}" name="grant" '
        f'value="{escape(scope)}" checked><label for="scope-{escape(scope)}">'
        f"{escape(SCOPE_TEXT.get(scope, scope))} <code>{escape(scope)}</code></label></div>"
        for scope in dialog.scopes
    )
    page_rows = "".join(
        f'<div class="choice"><input type="checkbox" id="page-{pid}" name="page" value="{pid}" '
        f'checked><img src="/_sandbox/picture/{pid}.png" alt="" width="28" height="28">'
        f'<label for="page-{pid}"><bdi>{escape(name)}</bdi></label></div>'
        for pid, name in pages
    )
    return _document(
        f"Log in to {APPLICATION}",
        f"<h1><bdi>{escape(APPLICATION)}</bdi> is requesting access</h1>"
        f"<p>Logged in as <bdi>{escape(user)}</bdi>. Your public profile is always shared.</p>"
        f'<form method="post" action="{CONFIRM_PATH}">{hidden_inputs}'
        + (f"<fieldset><legend>Permissions</legend>{scopes}</fieldset>" if scopes else "")
        + f"<fieldset><legend>Pages</legend>{page_rows}</fieldset>"
        '<div class="actions"><button type="submit" id="continue" name="action" '
        'value="continue">Continue</button><button type="submit" id="cancel" name="action" '
        'value="cancel" formnovalidate>Cancel</button></div></form>',
    )


def error_html(message: str) -> str:
    return _document(
        "Facebook Login error",
        f'<h1>Sorry, something went wrong</h1><p role="alert">{escape(message)}</p>',
    )


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'  # no favicon request (it would be a Graph 400)
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def picture_png(page_id: str) -> bytes:
    """A small square PNG in a colour of the Page's own (RGB from a hash of its id)."""
    colour = hashlib.sha256(page_id.encode()).digest()[:3]
    row = b"\x00" + colour * PICTURE_SIZE  # filter type 0, then the pixels
    header = struct.pack(">IIBBBBB", PICTURE_SIZE, PICTURE_SIZE, 8, 2, 0, 0, 0)
    chunks = [(b"IHDR", header), (b"IDAT", zlib.compress(row * PICTURE_SIZE)), (b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        for kind, data in chunks
    )
