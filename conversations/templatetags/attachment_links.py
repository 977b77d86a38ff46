"""Where attachment URLs from Graph may lead. Until media are stored locally, pictures are
loaded only from Facebook's CDNs over https, or from a Graph host that is not Facebook's
(the sandbox serves its own media; the Content-Security-Policy's img-src says the same),
links only ever open http(s) addresses, and a person sees which site a link opens."""

from urllib.parse import urlsplit

from django import template
from django.conf import settings

register = template.Library()

FACEBOOK_MEDIA_HOSTS = ("fbcdn.net", "fbsbx.com")


def _host(url: object) -> str:
    if not isinstance(url, str):
        return ""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


@register.filter
def facebook_media_url(url: object) -> str:
    """The URL if it is an https address on Facebook's CDN; empty otherwise."""
    host = _host(url)
    is_facebook = any(host == h or host.endswith(f".{h}") for h in FACEBOOK_MEDIA_HOSTS)
    if is_facebook and urlsplit(url).scheme == "https":
        return url
    if host and _graph_origin() == _origin(url) and not host.endswith(".facebook.com"):
        return url  # a Graph host that is not Facebook's (the sandbox) serves its media itself
    return ""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _graph_origin() -> str:
    """The Graph host's origin, which settings also allow in the CSP's img-src."""
    return _origin(settings.FACEBOOK_GRAPH_URL)


@register.filter
def web_link(url: object) -> str:
    """The URL if it opens a web page (http or https, with a host); empty otherwise, so a
    `javascript:` or `data:` address is never a link."""
    if _host(url) and urlsplit(url).scheme in ("http", "https"):
        return url
    return ""


@register.filter
def link_host(url: object) -> str:
    """The site a link opens, shown next to it."""
    host = _host(url)
    return host.removeprefix("www.")
