"""Attachment bytes at expiring, signed URLs, like Facebook's CDN (graph-api.md §4.2, §8.2).

Generated messages keep a *reference* to their media (``sandbox-media:/v/t1.15752-9/1_n.jpg``,
see :func:`media_ref`); every response that carries one (a Graph read, a webhook) gets a fresh
URL on the sandbox's own origin, ``{base}/_media/v/t1.15752-9/1_n.jpg?…&oh=…&oe=…``, where
``oe`` is the expiry (hex epoch seconds, measured with the sandbox's clock) and ``oh`` an HMAC
of the path, ``oe`` and ``_nc_gid`` (which :meth:`MediaControls.expire_media` moves on, so
every URL handed out before it expires at once). Re-reading the message gives a working URL,
as on Meta.

``GET /_media/<path>`` answers, in this order: 404 for a path that is no attachment's, 403
``Bad URL hash`` for a wrong or missing ``oh``, 403 ``URL signature expired`` after ``oe``,
500 for a share ``media_fail_rate`` of calls, else 200 with small valid bytes made from the
path (JPEG, PNG, GIF, PDF, an empty .docx, MP4 and MP3 headers, text), the extension's
Content-Type and its Content-Length. ``media_lies`` serves an HTML page under that type;
``media_large=N`` pads every file to at least N bytes (after the format's end, where readers
ignore it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
import struct
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

PREFIX = "sandbox-media:"  # a generated message's reference to its media, signed when served
ROUTE = "/_media"
PATH_RE = re.compile(r"^/v/t[\d.]+-\d+/(?:[\w.-]+/)*[^/]+\.(\w+)$")
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "mp4": "video/mp4",
    "mp3": "audio/mpeg",
    "txt": "text/plain; charset=utf-8",
}
EXPIRED = b"URL signature expired"
BAD_HASH = b"Bad URL hash"
LIE = b"<!DOCTYPE html><html><head><title>Facebook</title></head><body>Log in</body></html>"

Response = tuple[int, list[tuple[str, str]], bytes]


def media_ref(path: str) -> str:
    """What a generated attachment stores instead of a URL: ``/v/<bucket>/<name>.<ext>``."""
    return PREFIX + path


class Media:
    """Signs media references into URLs and serves the URLs (see the module docstring)."""

    def __init__(self, seed: int, clock: Callable[[], float]) -> None:
        self.secret = hashlib.sha256(f"{seed}:media".encode()).digest()
        self.clock = clock
        self._epoch0, self._clock0 = time.time(), clock()
        self.generation = 0  # moved on by expire_media()
        self.base_url = "http://127.0.0.1"  # for webhooks; SandboxServer sets its own URL
        self.rng = random.Random(f"{seed}:media")
        self.lock = threading.Lock()

    def now(self) -> float:
        """Epoch seconds that follow the sandbox's clock (an injected clock moves them too)."""
        return self._epoch0 + self.clock() - self._clock0

    def _hash(self, path: str, oe: str, gid: str) -> str:
        digest = hmac.new(self.secret, f"{path}\n{oe}\n{gid}".encode(), hashlib.sha256).digest()
        return "00_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def url(self, path: str, base_url: str, ttl_seconds: float) -> str:
        oe = format(int(self.now() + ttl_seconds), "x")
        gid = str(self.generation)
        category = int(hashlib.sha256(path.encode()).hexdigest()[:2], 16) % 10
        query = {"_nc_cat": f"10{category}", "_nc_gid": gid, "oh": self._hash(path, oe, gid)}
        query["oe"] = oe
        return f"{base_url}{ROUTE}{quote(path, safe='/')}?{urlencode(query)}"

    def sign(self, value: Any, base_url: str, ttl_seconds: float) -> Any:
        """``value`` with every media reference replaced by a fresh URL (a copy: the stored
        message keeps its references)."""
        if isinstance(value, str):
            if value.startswith(PREFIX):
                return self.url(value[len(PREFIX) :], base_url, ttl_seconds)
            return value
        if isinstance(value, dict):
            return {k: self.sign(v, base_url, ttl_seconds) for k, v in value.items()}
        if isinstance(value, list):
            return [self.sign(v, base_url, ttl_seconds) for v in value]
        return value

    def serve(self, path: str, query: str, config: Any) -> Response:
        """The answer to ``GET /_media{path}?{query}``."""
        match = PATH_RE.match(path)
        if match is None or match.group(1) not in CONTENT_TYPES:
            return _text(404, b"Not Found")
        params = dict(parse_qsl(query, keep_blank_values=True))
        oe, gid = params.get("oe", ""), params.get("_nc_gid", "")
        if not hmac.compare_digest(params.get("oh", ""), self._hash(path, oe, gid)):
            return _text(403, BAD_HASH)
        if int(oe, 16) <= self.now() or gid != str(self.generation):
            return _text(403, EXPIRED)
        with self.lock:
            failed = self.rng.random() < float(config.media_fail_rate or 0)
        if failed:
            return _text(500, b"Internal Server Error")
        extension = match.group(1)
        body = LIE if config.media_lies else file_bytes(extension, path)
        if config.media_large and len(body) < int(config.media_large):
            body += b"\0" * (int(config.media_large) - len(body))
        headers = [
            ("Content-Type", CONTENT_TYPES[extension]),
            ("Cache-Control", "max-age=1209600, no-transform"),
            ("Access-Control-Allow-Origin", "*"),
        ]
        return 200, headers, body


class MediaControls:
    """The control method, mixed into :class:`graph_sandbox.Sandbox` (which owns ``media``)."""

    media: Media

    def expire_media(self) -> int:
        """Every media URL handed out so far answers "URL signature expired" from now on;
        re-reading a message gives working ones. Returns the new generation."""
        with self.media.lock:
            self.media.generation += 1
            return self.media.generation


def _text(status: int, body: bytes) -> Response:
    return status, [("Content-Type", "text/plain")], body


# -- the bytes --------------------------------------------------------------------------------


def file_bytes(extension: str, path: str) -> bytes:
    """Small valid bytes of the type ``extension`` names, different for every ``path``."""
    seed = hashlib.sha256(path.encode()).digest()
    return MAKERS[extension](seed, path)


def _png(seed: bytes, path: str, size: int = 8) -> bytes:
    row = b"\x00" + seed[:3] * size  # filter type 0, then RGB pixels
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    chunks = [(b"IHDR", header), (b"IDAT", zlib.compress(row * size)), (b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        for kind, data in chunks
    )


def _segment(marker: int, data: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data


def _jpeg(seed: bytes, path: str) -> bytes:
    """A baseline 8×8 greyscale JPEG of one grey: one DC coefficient, no AC (EOB)."""
    grey = 16 + seed[0] % 224
    dc = 8 * (grey - 128)  # the DC coefficient of a flat block, quantised by 1
    category = abs(dc).bit_length()
    value = dc if dc >= 0 else dc + (1 << category) - 1
    # Huffman: the DC table has one code "0" for `category`, the AC table one code "0" for EOB
    bits = "0" + (format(value, f"0{category}b") if category else "") + "0"
    bits += "1" * (-len(bits) % 8)
    scan = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)).replace(
        b"\xff", b"\xff\x00"
    )
    one_code = bytes([1] + [0] * 15)
    return b"".join(
        [
            b"\xff\xd8",
            _segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
            _segment(0xFE, f"graph_sandbox {seed.hex()[:16]}".encode()),
            _segment(0xDB, b"\0" + b"\x01" * 64),
            _segment(0xC0, b"\x08\0\x08\0\x08\x01\x01\x11\0"),
            _segment(0xC4, b"\x00" + one_code + bytes([category])),
            _segment(0xC4, b"\x10" + one_code + b"\x00"),
            _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
            scan,
            b"\xff\xd9",
        ]
    )


def _gif(seed: bytes, path: str) -> bytes:
    """A 1×1 GIF of the path's colour."""
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00"
        + seed[:3]
        + b"\xff\xff\xff"
        + b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def _pdf(seed: bytes, path: str) -> bytes:
    """A one-page PDF with a correct cross-reference table."""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>",
    ]
    out = b"%PDF-1.4\n% graph_sandbox " + seed.hex()[:16].encode() + b"\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj".encode() + body + b"endobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    trailer = f"trailer<</Size {len(objects) + 1}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n"
    return out + trailer.encode()


def _docx(seed: bytes, path: str) -> bytes:
    return b"PK\x05\x06" + b"\0" * 18  # an empty ZIP archive (a .docx is a ZIP)


def _mp4(seed: bytes, path: str) -> bytes:
    """An MP4's first boxes: ftyp, a free box marked with the path, an empty mdat."""
    ftyp = b"ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
    free = b"free" + seed[:8]
    return b"".join(struct.pack(">I", len(box) + 4) + box for box in (ftyp, free, b"mdat"))


def _mp3(seed: bytes, path: str) -> bytes:
    """An ID3v2.4 header and one silent MPEG-1 Layer III frame (128 kb/s, 44.1 kHz)."""
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\0" * 413


def _txt(seed: bytes, path: str) -> bytes:
    return f"graph_sandbox file {path.rsplit('/', 1)[-1]}\n".encode()


MAKERS: dict[str, Callable[[bytes, str], bytes]] = {
    "jpg": _jpeg,
    "png": _png,
    "gif": _gif,
    "pdf": _pdf,
    "docx": _docx,
    "mp4": _mp4,
    "mp3": _mp3,
    "txt": _txt,
}
