"""The sandbox serves attachment bytes at expiring, signed URLs on its own origin, as
Facebook's CDN does (graph-api.md §4.2, §8.2): bytes and types per kind, expiry by the
sandbox's clock and by ``expire_media``, a fresh URL on every read, bad signatures, unknown
paths, and the switches (lies, large files, failures). All over real HTTP."""

from __future__ import annotations

import struct
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from graph_sandbox import SandboxControl
from graph_sandbox.media import file_bytes
from tests.graph_sandbox.sandbox_helpers import get
from tests.graph_sandbox.test_webhook_sender import Receiver

THREE_DAYS = 3 * 86400
MAGIC = {
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "application/pdf": b"%PDF-",
    "video/mp4": b"\x00\x00\x00\x20ftypisom",
    "audio/mpeg": b"ID3",
}


class Clock:
    """The sandbox's clock, moved by hand (monotonic seconds)."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def media_sandbox(make_graph_sandbox):
    """A sandbox on a hand-moved clock whose webhooks go to a receiver, so messages with a
    chosen attachment can be made: ``server, rec, clock = media_sandbox()``."""
    receivers: list[Receiver] = []

    def make(**options: Any):
        clock = Clock()
        server = make_graph_sandbox(conversations=8, seed=5, latency_ms=0, clock=clock, **options)
        receivers.append(Receiver())
        server.sandbox.configure_webhooks(receivers[-1].url, retry_delay_seconds=0.01)
        return server, receivers[-1], clock

    yield make
    for receiver in receivers:
        receiver.stop()


def attachment_message(server, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(webhook event, Graph attachment) of a new message with one attachment of ``kind``."""
    [event] = server.sandbox.send_webhooks(server.page_id, attachment=kind)["events"]
    return event, read_attachment(server, event["conversation_id"])


def read_attachment(server, conversation_id: str) -> dict[str, Any]:
    """The newest message's attachment, read from Graph (a fresh URL each time)."""
    fields = "id,sticker,attachments{id,mime_type,name,image_data,video_data,file_url}"
    body = get(server, f"{conversation_id}/messages", fields=fields, limit=1).json()
    return body["data"][0]["attachments"]["data"][0]


def url_of(attachment: dict[str, Any]) -> str:
    for key in ("image_data", "video_data"):
        if key in attachment:
            return attachment[key]["url"]
    return attachment["file_url"]


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, **changes: str) -> str:
    params = {**query(url), **changes}
    return url.split("?")[0] + "?" + urlencode({k: v for k, v in params.items() if v})


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [
        ("image", "image/jpeg"),
        ("sticker", "image/png"),
        ("file", None),  # a PDF or a .docx, as the generated name says
        ("audio", "audio/mpeg"),
        ("video", "video/mp4"),
    ],
)
def test_each_kind_is_served_with_its_bytes_type_and_length(media_sandbox, kind, content_type):
    server, rec, _ = media_sandbox()
    _, attachment = attachment_message(server, kind)
    url = url_of(attachment)
    assert url.startswith(f"{server.url}/_media/v/t")
    assert {"oe", "oh", "_nc_gid"} <= set(query(url))
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == attachment["mime_type"]
    if content_type is not None:
        assert attachment["mime_type"] == content_type
    assert int(response.headers["Content-Length"]) == len(response.content) > 20
    magic = MAGIC.get(attachment["mime_type"], b"PK\x05\x06")  # a .docx is a ZIP
    assert response.content.startswith(magic)
    assert requests.get(url, timeout=10).content == response.content  # deterministic


def test_pictures_and_pdfs_are_well_formed(media_sandbox):
    server, _, _ = media_sandbox()
    _, image = attachment_message(server, "image")
    jpeg = requests.get(image["image_data"]["url"], timeout=10).content
    assert jpeg.endswith(b"\xff\xd9")
    width_height = jpeg.index(b"\xff\xc0") + 5
    assert struct.unpack(">HH", jpeg[width_height : width_height + 4]) == (8, 8)
    preview = requests.get(image["image_data"]["preview_url"], timeout=10)
    assert preview.headers["Content-Type"] == "image/jpeg"
    _, sticker = attachment_message(server, "sticker")
    png = requests.get(sticker["image_data"]["url"], timeout=10).content
    assert png.endswith(b"IEND\xaeB`\x82")
    other = url_of(attachment_message(server, "sticker")[1])
    assert png != requests.get(other, timeout=10).content  # each attachment its own bytes
    for path, content_type, magic in (
        ("/v/t39.1997-6/1_n.gif", "image/gif", b"GIF89a\x01\x00\x01\x00"),
        ("/v/t59.2708-21/1/notes.txt", "text/plain; charset=utf-8", b"graph_sandbox file"),
    ):  # kinds the sandbox serves though no generated message uses them yet
        served = requests.get(server.sandbox.media.url(path, server.url, 60), timeout=10)
        assert served.headers["Content-Type"] == content_type
        assert served.content.startswith(magic)
    body = file_bytes("pdf", "/v/t59.2708-21/1/a.pdf")
    xref = int(body.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert body[xref:].startswith(b"xref\n0 4\n")
    assert body.endswith(b"%%EOF\n")


def test_webhook_urls_point_at_the_sandbox_and_work(media_sandbox):
    server, rec, _ = media_sandbox()
    event, graph = attachment_message(server, "image")
    assert server.sandbox.wait_for_webhooks(10)
    [item] = rec.items()
    webhook_url = item["message"]["attachments"][0]["payload"]["url"]
    assert webhook_url.startswith(f"{server.url}/_media/")
    assert webhook_url.split("?")[0] == url_of(graph).split("?")[0]
    assert requests.get(webhook_url, timeout=10).status_code == 200


def test_generated_messages_carry_working_media_urls(make_graph_sandbox):
    server = make_graph_sandbox(conversations=80, seed=2, latency_ms=0)
    fields = "messages.limit(100){sticker,attachments{image_data,video_data,file_url}}"
    urls = []
    for conversation in get(server, f"{server.page_id}/conversations", limit=80).json()["data"]:
        body = get(server, conversation["id"], fields=fields).json()
        for message in body.get("messages", {}).get("data", []):
            urls += [message["sticker"]] if "sticker" in message else []
            for attachment in message.get("attachments", {}).get("data", []):
                if any(k in attachment for k in ("image_data", "video_data", "file_url")):
                    urls.append(url_of(attachment))
    assert len(urls) >= 5
    session = requests.Session()
    for url in urls:
        assert url.startswith(f"{server.url}/_media/v/"), url
        assert session.get(url, timeout=10).status_code == 200, url


def test_a_url_expires_with_the_clock_and_a_new_read_gives_a_working_one(media_sandbox):
    server, _, clock = media_sandbox()
    event, attachment = attachment_message(server, "image")
    url = url_of(attachment)
    expiry = int(query(url)["oe"], 16)
    assert THREE_DAYS - 5 <= expiry - time.time() <= THREE_DAYS + 5
    clock.value += THREE_DAYS - 60
    before = requests.get(url, timeout=10).content
    assert before.startswith(MAGIC["image/jpeg"])
    clock.value += 61
    expired = requests.get(url, timeout=10)
    assert (expired.status_code, expired.text) == (403, "URL signature expired")
    fresh = url_of(read_attachment(server, event["conversation_id"]))
    assert int(query(fresh)["oe"], 16) > expiry
    assert fresh.split("?")[0] == url.split("?")[0]
    refreshed = requests.get(fresh, timeout=10)
    assert (refreshed.status_code, refreshed.content) == (200, before)


def test_the_ttl_option_sets_the_expiry(media_sandbox):
    server, _, clock = media_sandbox(media_url_ttl_seconds=60)
    event, attachment = attachment_message(server, "file")
    url = url_of(attachment)
    assert 55 <= int(query(url)["oe"], 16) - time.time() <= 65
    clock.value += 61
    assert requests.get(url, timeout=10).status_code == 403
    server.sandbox.configure(media_url_ttl_seconds=0)  # expired as soon as handed out
    instant = url_of(read_attachment(server, event["conversation_id"]))
    assert requests.get(instant, timeout=10).status_code == 403


def test_expire_media_expires_every_url_handed_out(media_sandbox):
    server, _, _ = media_sandbox()
    event, attachment = attachment_message(server, "video")
    url = url_of(attachment)
    assert requests.get(url, timeout=10).status_code == 200
    assert SandboxControl(server.url).expire_media() == 1
    expired = requests.get(url, timeout=10)
    assert (expired.status_code, expired.text) == (403, "URL signature expired")
    fresh = url_of(read_attachment(server, event["conversation_id"]))
    assert fresh != url
    assert requests.get(fresh, timeout=10).status_code == 200


def test_a_bad_signature_or_an_unknown_path_is_refused(media_sandbox):
    server, _, _ = media_sandbox()
    _, attachment = attachment_message(server, "image")
    url = url_of(attachment)
    later = format(int(query(url)["oe"], 16) + 86400, "x")
    for forged in (
        with_query(url, oh="00_" + "A" * 43),
        with_query(url, oh=""),
        with_query(url, oe=later),  # a longer life is not the signed one
        with_query(url, _nc_gid="7"),
        url.replace("_n.jpg", "_n.png"),
    ):
        answer = requests.get(forged, timeout=10)
        assert (answer.status_code, answer.text) == (403, "Bad URL hash"), forged
    for unknown in ("/_media/v/t1.15752-9/1_n.exe", "/_media/nothing", "/_media/v/x/1.jpg"):
        assert requests.get(server.url + unknown, timeout=10).status_code == 404


def test_lies_large_files_and_failures(media_sandbox):
    server, _, _ = media_sandbox()
    _, attachment = attachment_message(server, "image")
    url = url_of(attachment)
    server.sandbox.configure(media_lies=True)
    lie = requests.get(url, timeout=10)
    assert lie.status_code == 200
    assert lie.headers["Content-Type"] == "image/jpeg"
    assert lie.content.startswith(b"<!DOCTYPE html>")
    server.sandbox.configure(media_lies=False, media_large=2_000_000)
    large = requests.get(url, timeout=10)
    assert int(large.headers["Content-Length"]) == len(large.content) == 2_000_000
    assert large.content.startswith(MAGIC["image/jpeg"])
    server.sandbox.configure(media_large=None, media_fail_rate=1.0)
    failed = requests.get(url, timeout=10)
    assert failed.status_code == 500
    server.sandbox.configure(media_fail_rate=0.5)
    statuses = {requests.get(url, timeout=10).status_code for _ in range(30)}
    assert statuses == {200, 500}
    server.sandbox.clear_faults()
    assert requests.get(url, timeout=10).content.startswith(MAGIC["image/jpeg"])
