"""Where attachment URLs from Graph may lead. Until media are stored locally, pictures are
loaded only from Facebook's CDNs over https (the Content-Security-Policy's img-src says the
same), links only ever open http(s) addresses, and a person sees which site a link opens."""

from urllib.parse import urlsplit

from django import template

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
    return ""


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
