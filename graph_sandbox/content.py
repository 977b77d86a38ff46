"""Generated content: names, texts, attachments and messages (deterministic per message).

A message is identified by ``(seed, conversation id, index)`` (index 0 = oldest): its id comes
from a hash of that triple and its content from a ``random.Random`` seeded with the same hash, so
one message can be produced without generating the rest of its thread.
"""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .media import media_ref

if TYPE_CHECKING:
    from .dataset import Conversation

PAGE_NAMES = (
    "Lisbon Bike Shop",
    "Porto Coffee Roasters",
    "Café Zoë",
    "Tokyo Ramen 東京",
    "Berlin Vinyl Records",
    "Casa Ñandú Crafts",
    "Oslo Outdoor Gear",
    "Marrakech Tiles & Co",
)

FIRST = (
    "Ana", "João", "Maria", "Pedro", "Sofia", "Miguel", "Inês", "Tiago", "Beatriz", "Rui",
    "Emma", "Liam", "Olivia", "Noah", "Chloé", "Zoë", "Björn", "Łukasz", "Søren", "Ñuño",
    "François", "Ærin", "Dvořák", "Siobhán", "José María",
)  # fmt: skip
LAST = (
    "Ferreira", "Silva", "Santos", "Oliveira", "Costa", "Müller", "O'Brien", "García",
    "Núñez", "Kowalski", "Smith", "Lefèvre", "Øvergård", "van der Berg", "D'Angelo",
)  # fmt: skip
CJK = ("李小龍", "王芳", "佐藤 健", "김민준", "田中 花子", "陈伟", "山田 太郎", "이서연")
RTL = ("محمد العلي", "فاطمة الزهراء", "יעל כהן", "דוד לוי", "عمر خالد", "נועה ישראלי")
EMOJI_NAMES = (
    "Zoë 🚲 Ferreira", "🌸 Mariana", "Tiago ⚽", "Ana 💬 Costa", "Rui 🇵🇹", "👨‍👩‍👧 Família Lopes",
)  # fmt: skip

INBOUND_TEXT = (
    "Olá! Vocês têm bicicletas elétricas? 🚲",
    "Do you ship to Lisbon?",
    "Obrigado 🙏",
    "¿Cuánto cuesta el envío?",
    "你好，请问营业时间？",
    "مرحبا، هل المتجر مفتوح اليوم؟",
    "שלום, האם יש משלוח?",
    "👍",
    "Thanks! 😊",
    "Can I return it? 🤔",
    "Is the blue one still available?\nAnd in size M?",
    "Zoe\u0308 here again — any news on my order #4417?",
    "👨‍👩‍👧 we are 3, do you have a family discount?",
    "ok",
    "Bonjour, c'est ouvert dimanche ?",
    "<b>not html</b> & \"quotes\" 'single' \\ backslash",
)  # fmt: skip
OUTBOUND_TEXT = (
    "Hi! Yes, we're open 9–18h. 🙂",
    "Sure — here's the link: https://example.com/p/123",
    "Thanks for your message, we'll get back to you soon.",
    "Claro! Enviamos para todo o país 🇵🇹",
    "The order ships tomorrow 📦",
    "谢谢！",
    "Could you send us a photo?",
)  # fmt: skip
LONG_TEXT_UNIT = "Lorem ipsum 🚲 dolor sit amet, ação ünïcödé 中文. "
LONG_TEXT_LEN = 5000
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def format_time(ts: int) -> str:
    """Graph's timestamp format: ``2026-08-01T10:22:31+0000``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=24).digest()


def message_id(seed: int, conv_id: str, index: int) -> str:
    digest = _digest(f"{seed}:{conv_id}:{index}")
    return "m_" + base64.urlsafe_b64encode(digest).decode()[: 20 + digest[0] % 11]


@dataclass(slots=True)
class Message:
    """A generated message; ``from``/``to`` are rendered from the conversation when read."""

    id: str
    index: int
    created_ts: int
    from_page: bool
    text: str
    attachments: list[dict[str, Any]] | None = None
    sticker: str | None = None
    shares: list[dict[str, str]] | None = None

    def render(self, conv: Conversation) -> dict[str, Any]:
        """The full Graph representation (fields with no data are omitted)."""
        sender, recipient = conv.page.person(), conv.person()
        if not self.from_page:
            sender, recipient = recipient, sender
        out: dict[str, Any] = {
            "id": self.id,
            "created_time": format_time(self.created_ts),
            "from": sender,
            "to": {"data": [recipient]},
            "message": self.text,
        }
        if self.attachments:
            out["attachments"] = {"data": self.attachments}
        if self.sticker:
            out["sticker"] = self.sticker
        if self.shares:
            out["shares"] = {"data": self.shares}
        tags = ["sent", "source:web"] if self.from_page else [conv.folder, "source:chat"]
        out["tags"] = {"data": [{"name": t} for t in tags]}
        return out


@lru_cache(maxsize=512)
def _thread_timestamps(seed: int, conv_id: str, count: int, newest: int) -> tuple[int, ...]:
    """Chronological created_time of ``count`` generated messages ending at ``newest``."""
    if count <= 0:
        return ()
    rng = random.Random(f"{seed}:{conv_id}:t")
    out = [newest]
    ts = newest
    for _ in range(count - 1):
        r = rng.random()
        if r < 0.08:
            gap = 0  # equal timestamps within a thread are common (1 s resolution)
        elif r < 0.75:
            gap = rng.randint(1, 600)
        elif r < 0.95:
            gap = rng.randint(600, 6 * 3600)
        else:
            gap = rng.randint(6 * 3600, 5 * 86400)
        ts -= gap
        out.append(ts)
    out.reverse()
    return tuple(out)


def _attachment(rng: random.Random, att_seed: int, kind: str) -> dict[str, Any]:
    att_id = str(10**15 + att_seed % (9 * 10**15))
    if kind in ("image", "sticker"):
        w, h = rng.choice(((1080, 1350), (960, 1280), (2048, 1536), (240, 240)))
        ext = "png" if kind == "sticker" else "jpg"
        bucket = "t39.1997-6" if kind == "sticker" else "t1.15752-9"
        url = media_ref(f"/v/{bucket}/{att_id}_n.{ext}")
        return {
            "id": att_id,
            "mime_type": "image/png" if kind == "sticker" else "image/jpeg",
            "name": f"image-{att_id}.{'png' if kind == 'sticker' else 'jpg'}",
            "size": rng.randint(20_000, 4_000_000),
            "image_data": {
                "url": url,
                "preview_url": media_ref(f"/v/t1.15752-9/p100x100/{att_id}_n.jpg"),
                "width": w,
                "height": h,
                "max_width": w,
                "max_height": h,
                "render_as_sticker": kind == "sticker",
            },
        }
    if kind == "file":
        name = rng.choice(("invoice-2231.pdf", "Fatura nº 17.pdf", "menu.docx", "发票.pdf"))
        return {
            "id": att_id,
            "mime_type": "application/pdf" if name.endswith("pdf") else DOCX,
            "name": name,
            "size": rng.randint(10_000, 9_000_000),
            "file_url": media_ref(f"/v/t59.2708-21/{att_id}/{name}"),
        }
    if kind == "video":
        url = media_ref(f"/v/t42.3356-2/{att_id}_n.mp4")
        return {
            "id": att_id,
            "mime_type": "video/mp4",
            "name": f"video-{att_id}.mp4",
            "size": rng.randint(200_000, 25_000_000),
            "file_url": url,
            "video_data": {
                "url": url,
                "preview_url": media_ref(f"/v/t1.15752-9/{att_id}_t.jpg"),
                "width": 720,
                "height": 1280,
            },
        }
    if kind == "template":
        return {
            "id": att_id,
            "generic_template": {"title": "Order #4417", "subtitle": "2 items", "cta": {}},
        }
    # unknown / odd attachment type: no data block at all
    return {"id": att_id, "mime_type": "application/octet-stream", "name": "unknown", "size": 0}


def generate_message(
    seed: int, conv: Conversation, index: int, created_ts: int, inbound: bool = False
) -> Message:
    """Message ``index`` (0 = oldest) of ``conv``; deterministic from (seed, conv id, index)."""
    digest = _digest(f"{seed}:{conv.id}:{index}")
    msg_id = message_id(seed, conv.id, index)
    rng = random.Random(int.from_bytes(digest[:8]))
    # the first message comes from the person; the last `unread_count` are inbound (unread)
    forced_inbound = inbound or index == 0 or index >= conv.message_count - conv.unread_count
    from_page = not forced_inbound and rng.random() < 0.4
    att_seed = int.from_bytes(digest[8:16])
    r = rng.random()
    attachments = sticker = shares = None
    pool = OUTBOUND_TEXT if from_page else INBOUND_TEXT
    if r < 0.01:
        text = (LONG_TEXT_UNIT * (LONG_TEXT_LEN // len(LONG_TEXT_UNIT) + 1))[:LONG_TEXT_LEN]
    elif r < 0.03:
        text = ""
        sticker = media_ref(f"/v/t39.1997-6/{att_seed % 10**12}_n.png")
        attachments = [_attachment(rng, att_seed, "sticker")]
    elif r < 0.13:
        kinds = ("image", "image", "image", "image", "file", "file", "video", "unknown")
        kind = rng.choice(kinds + ("template",))
        n = rng.choice((1, 1, 1, 2, 3)) if kind == "image" else 1
        attachments = [_attachment(rng, att_seed + i, kind) for i in range(n)]
        text = rng.choice(pool) if rng.random() < 0.3 else ""
    elif r < 0.14:
        text = rng.choice(("Look at this!", "Olha isto 👀", ""))
        shares = [
            {
                "link": f"https://www.facebook.com/{att_seed % 10**15}/posts/{att_seed % 10**9}",
                "name": "New arrivals: spring collection 🌸",
                "description": "Come and see what's new in store — até já!",
            }
        ]
    else:
        text = " ".join(rng.choice(pool) for _ in range(rng.choice((1, 1, 1, 2, 3))))
    return Message(msg_id, index, created_ts, from_page, text, attachments, sticker, shares)


def _name(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.60:
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    if r < 0.72:
        return rng.choice(CJK)
    if r < 0.80:
        return rng.choice(RTL)
    if r < 0.90:
        return rng.choice(EMOJI_NAMES)
    return rng.choice(FIRST)
