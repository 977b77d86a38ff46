"""A Content-Security-Policy with script-src 'self', and nothing in the pages that it would
block: no inline script, event handler, hx-on attribute, inline style or style attribute."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from conversations.models import Conversation
from tests.helpers import ROOT, sync

pytestmark = pytest.mark.django_db

INLINE = {
    "inline script": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I),
    "event handler": re.compile(r"<[^>]+\son[a-z]+\s*=", re.I),
    "hx-on": re.compile(r"\s(data-)?hx-on", re.I),
    "style element": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"<[^>]+\sstyle\s*=", re.I),
    "javascript: URL": re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I),
}


def inline_code(html: str) -> list[str]:
    return [f"{name}: {m.group(0)[:80]}" for name, rx in INLINE.items() for m in rx.finditer(html)]


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        directive.split()[0]: directive.split()[1:]
        for directive in (part.strip() for part in header.split(";"))
        if directive
    }


@pytest.mark.parametrize(
    "path",
    sorted(
        str(p.relative_to(ROOT))
        for folder in ("templates", "static")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in {".html", ".js"}
    ),
)
def test_templates_and_scripts_have_nothing_the_policy_blocks(path):
    text = (ROOT / path).read_text()
    if path.endswith(".html"):
        assert inline_code(text) == []
    else:  # the scripts themselves: no eval of strings
        assert not re.search(r"\beval\(|new Function\(|set(Timeout|Interval)\(\s*['\"`]", text)


def test_every_screen_sends_the_policy_and_renders_nothing_it_blocks(client, page):
    sync(page)  # a complete run: the page shows the progress bar at 100 %
    conversation = Conversation.objects.filter(page=page).first()
    admin = User.objects.create_superuser("admin", password="pw")
    login = client.get(reverse("login"))
    client.force_login(admin)
    responses = [login] + [
        client.get(url)
        for url in (
            reverse("pages:list"),
            reverse("pages:connect"),
            reverse("pages:detail", args=[page.pk]),
            reverse("conversations:list"),
            reverse("conversations:detail", args=[conversation.pk]),
            reverse("conversations:activity", args=[page.pk]),
            reverse("admin:index"),
            reverse("admin:pages_syncrun_changelist"),
            reverse("admin:pages_facebookpage_change", args=[page.pk]),
        )
    ]
    for response in responses:
        assert response.status_code == 200, response.request["PATH_INFO"]
        csp = policy(response)
        assert csp["script-src"] == ["'self'"]
        assert csp["style-src"] == ["'self'"]
        assert csp["object-src"] == ["'none'"]
        assert csp["frame-ancestors"] == ["'none'"]
        assert inline_code(response.content.decode()) == [], response.request["PATH_INFO"]
    detail = responses[3].content.decode()
    # The complete run's bar is a native <progress> (no width in a style attribute).
    assert re.search(r"<progress\b[^>]*>100%</progress>", detail)
    assert 'name="htmx-config"' in detail
    assert '"allowEval": false' in detail
