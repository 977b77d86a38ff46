"""The list's "Last message": Graph's snippet, or, for a last message that is only attachments
(Graph's snippet is then empty), what it holds: "📷 Photo", "Sticker", "📎 File". Never empty."""

from __future__ import annotations

import re

import pytest

from conversations.snippets import ListSnippet, attachment_snippet, snippet_of
from tests.conversations.view_helpers import LIST_URL, add_message, at, make_conversation

IMAGE = {"type": "image", "url": "https://scontent.xx.fbcdn.net/a.jpg"}
STICKER = {"type": "sticker", "url": "https://scontent.xx.fbcdn.net/s.png"}
FILE = {"type": "file", "url": "https://cdn.example/invoice.pdf", "name": "invoice.pdf"}


@pytest.mark.parametrize(
    ("attachments", "expected"),
    [
        ([IMAGE], ListSnippet("Photo", "📷", describes=True)),
        ([IMAGE, IMAGE, IMAGE], ListSnippet("3 photos", "📷", describes=True)),
        ([STICKER], ListSnippet("Sticker", "", describes=True)),
        ([FILE], ListSnippet("File", "📎", describes=True)),
        ([{"type": "video"}], ListSnippet("Video", "🎬", describes=True)),
        ([{"type": "audio"}], ListSnippet("Audio", "🔊", describes=True)),
        (
            [{"type": "share", "url": "https://x.example"}],
            ListSnippet("Link", "🔗", describes=True),
        ),
        ([{"type": "hologram"}], ListSnippet("Attachment", "📎", describes=True)),
        ([IMAGE, FILE], ListSnippet("2 attachments", "📎", describes=True)),
        ([], None),
        (["junk", None], None),
        ("not a list", None),
    ],
)
def test_attachment_snippet_says_what_the_message_holds(attachments, expected):
    assert attachment_snippet(attachments) == expected


def test_graph_snippet_first_then_the_last_message_text_then_its_attachments(shop):
    conversation = make_conversation(shop, "t_1", name="Ana", psid="1")
    text = add_message(conversation, "m_1", when=at(3, 9), text="Hello there")
    photo = add_message(conversation, "m_2", when=at(3, 10), attachments=[IMAGE])
    empty = add_message(conversation, "m_3", when=at(3, 11))

    assert snippet_of("From Graph", photo) == ListSnippet("From Graph")
    assert snippet_of("  ", text) == ListSnippet("Hello there")
    assert snippet_of("", photo) == ListSnippet("Photo", "📷", describes=True)
    assert snippet_of("", empty) == ListSnippet("Empty message", describes=True)
    assert snippet_of("", None) == ListSnippet("No messages stored", describes=True)


def snippet_cells(response) -> dict[str, str]:
    """Contact name → the HTML of its "Last message" cell."""
    html = response.content.decode()
    rows = re.findall(
        r"<bdi>([^<]+)</bdi></a>.*?<td class=\"snippet[^\"]*\"[^>]*>(.*?)</td>", html, re.S
    )
    return dict(rows)


def test_the_list_never_shows_an_empty_last_message(admin_client, shop):
    photo_only = make_conversation(shop, "t_p", name="Photo Person", psid="1", updated=at(3, 15))
    add_message(photo_only, "m_p1", when=at(3, 9), text="Look at this")
    add_message(photo_only, "m_p2", when=at(3, 10), attachments=[IMAGE])  # the newest
    sticker_only = make_conversation(
        shop, "t_s", name="Sticker Person", psid="2", updated=at(3, 14)
    )
    add_message(sticker_only, "m_s1", when=at(3, 9), attachments=[STICKER])
    file_only = make_conversation(shop, "t_f", name="File Person", psid="3", updated=at(3, 13))
    add_message(file_only, "m_f1", when=at(3, 9), attachments=[FILE])
    texted = make_conversation(shop, "t_t", name="Text Person", psid="4", updated=at(3, 12))
    texted.snippet = "See you <b>tomorrow</b>"
    texted.save()
    make_conversation(shop, "t_e", name="Empty Person", psid="5", updated=at(3, 11))

    cells = snippet_cells(admin_client.get(LIST_URL))

    assert cells["Photo Person"] == '<span class="icon" aria-hidden="true">📷</span> Photo'
    assert cells["Sticker Person"] == "Sticker"
    assert cells["File Person"] == '<span class="icon" aria-hidden="true">📎</span> File'
    assert cells["Text Person"] == "<bdi>See you &lt;b&gt;tomorrow&lt;/b&gt;</bdi>"
    assert cells["Empty Person"] == "No messages stored"
    assert all(cell.strip() for cell in cells.values())
