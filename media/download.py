"""One download: the bytes streamed from a (signed, expiring) URL into a temporary file, the
size cap enforced while reading, the type checked against the bytes, then the file stored in
STORAGES["default"] under its sha256, once per distinct content.

Errors never quote the URL (its signature is a secret of sorts and it names the CDN)."""

from __future__ import annotations

import hashlib
import tempfile
import time
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat

from media import sniff
from media.models import StoredFile

CHUNK_BYTES = 64 * 1024
SPOOL_BYTES = 1024 * 1024  # kept in memory up to this size, then on disk
DEADLINE_SECONDS = 300.0  # a whole download, however slowly the bytes drip


class Refused(Exception):
    """The file is not kept, ever: too large, empty, or not a type we keep (or lying)."""


class Failed(Exception):
    """This attempt failed; another may work (a network error, a server error)."""


class Expired(Failed):
    """The URL no longer works (HTTP 403 or 410): a fresh one must be asked from Graph."""


def url_expired(url: str, now: float | None = None) -> bool:
    """Whether the URL's `oe` (hex epoch seconds, as on Facebook's CDN) is past."""
    try:
        oe = parse_qs(urlsplit(url).query).get("oe", [""])[0]
        return bool(oe) and int(oe, 16) <= (time.time() if now is None else now)
    except ValueError:
        return False


def fetch(url: str, kind: str, claimed: str, session: requests.Session) -> StoredFile:
    """Download `url` and keep it; the StoredFile (an existing one for known bytes)."""
    limit = settings.MEDIA_MAX_BYTES
    cap = f"the {filesizeformat(limit)} cap"
    timeout = (settings.MEDIA_CONNECT_TIMEOUT_SECONDS, settings.MEDIA_READ_TIMEOUT_SECONDS)
    started = time.monotonic()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        try:
            with session.get(url, stream=True, timeout=timeout) as response:
                if response.status_code in (403, 410):
                    raise Expired(f"the address expired (HTTP {response.status_code})")
                if response.status_code != 200:
                    raise Failed(f"the server answered HTTP {response.status_code}")
                length = response.headers.get("Content-Length", "")
                if length.isdigit() and int(length) > limit:
                    raise Refused(f"it is larger than {cap}")
                claimed = response.headers.get("Content-Type") or claimed
                digest, size, head = hashlib.sha256(), 0, b""
                for chunk in response.iter_content(CHUNK_BYTES):
                    size += len(chunk)
                    if size > limit:
                        raise Refused(f"it is larger than {cap}")
                    if time.monotonic() - started > DEADLINE_SECONDS:
                        raise Failed("the download took too long")
                    digest.update(chunk)
                    spool.write(chunk)
                    if len(head) < sniff.HEAD_BYTES:
                        head += chunk[: sniff.HEAD_BYTES - len(head)]
        except requests.Timeout:
            raise Failed("the download timed out") from None
        except requests.RequestException as exc:
            raise Failed(f"the download failed ({type(exc).__name__})") from None
        if size == 0:
            raise Refused("the file is empty")
        verdict = sniff.check(head, kind, claimed)
        if verdict.content_type is None:
            raise Refused(verdict.reason)
        return keep(spool, digest.hexdigest(), size, verdict)


def storage_name(sha256: str, extension: str) -> str:
    return f"{sha256[:2]}/{sha256}{extension}"


def keep(spool, sha256: str, size: int, verdict: sniff.Verdict) -> StoredFile:
    """The StoredFile of these bytes, written to the storage unless already there."""
    existing = StoredFile.objects.filter(sha256=sha256).first()
    if existing is not None:
        return existing
    storage = storages["default"]
    name = storage_name(sha256, verdict.extension)
    if not storage.exists(name):
        spool.seek(0)
        saved = storage.save(name, File(spool, name=name))
        if saved != name:  # another worker wrote the same bytes at the same instant
            storage.delete(saved)
    try:
        with transaction.atomic():
            return StoredFile.objects.create(
                sha256=sha256,
                size=size,
                content_type=verdict.content_type,
                storage_name=name,
            )
    except IntegrityError:
        return StoredFile.objects.get(sha256=sha256)
