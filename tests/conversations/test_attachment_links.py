"""Which attachment URLs the thread view loads as pictures: Facebook's CDNs over https, and the
Graph host's own origin when it is not Facebook's (the sandbox serves its media itself, and the
CSP allows that origin too); nothing else."""

import pytest

from conversations.templatetags.attachment_links import facebook_media_url

SANDBOX = "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    "url",
    [
        "https://scontent.xx.fbcdn.net/v/t1.15752-9/1_n.jpg?oe=6A",
        "https://cdn.fbsbx.com/v/t59/2.png",
        f"{SANDBOX}/_media/v/t1.15752-9/3_n.jpg?oh=1&oe=6A",
    ],
)
def test_facebook_media_and_the_sandbox_graph_hosts_media_are_shown(url, settings):
    settings.FACEBOOK_GRAPH_URL = SANDBOX
    assert facebook_media_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://scontent.xx.fbcdn.net/v/1.jpg",  # Facebook's CDN, but not over https
        "http://127.0.0.1:9999/_media/x.jpg",  # another port: another origin
        "https://evil.example/x.jpg",
        "javascript:alert(1)",
        "",
        None,
    ],
)
def test_anything_else_is_not(url, settings):
    settings.FACEBOOK_GRAPH_URL = SANDBOX
    assert facebook_media_url(url) == ""


def test_with_the_real_graph_host_only_facebooks_cdns_count(settings):
    settings.FACEBOOK_GRAPH_URL = "https://graph.facebook.com"
    assert facebook_media_url("https://graph.facebook.com/x.jpg") == ""
    assert facebook_media_url(f"{SANDBOX}/_media/x.jpg") == ""
