import re
import time
from collections import Counter

from graph_sandbox import Sandbox
from graph_sandbox.content import LONG_TEXT_LEN, format_time
from graph_sandbox.dataset import FOLDERS, Dataset

ANCHOR = 1_795_000_000


def test_dataset_same_seed_gives_same_truth():
    a = Sandbox(80, seed=7, anchor=ANCHOR).truth()
    b = Sandbox(80, seed=7, anchor=ANCHOR).truth()
    assert a == b


def test_dataset_other_seed_gives_other_data():
    a = Sandbox(80, seed=7, anchor=ANCHOR)
    b = Sandbox(80, seed=8, anchor=ANCHOR)
    assert a.page_id != b.page_id
    assert a.access_token != b.access_token
    ids_a = {c["id"] for c in a.truth()["conversations"]}
    ids_b = {c["id"] for c in b.truth()["conversations"]}
    assert ids_a.isdisjoint(ids_b)


def test_dataset_ids_have_graph_formats():
    sandbox = Sandbox(300, seed=2, pages=2, anchor=ANCHOR)
    for page_id, name, token in sandbox.pages:
        assert re.fullmatch(r"\d{17}", page_id)
        assert int(page_id) > 2**53
        assert token.startswith("EAAB")
        assert len(token) == 184
        assert name
    all_msg_ids = []
    for page_id, _, _ in sandbox.pages:
        for conv in sandbox.truth(page_id)["conversations"]:
            assert re.fullmatch(r"t_\d{15,18}", conv["id"])
            assert re.fullmatch(r"\d{16,17}", conv["participant"]["id"])
            assert len(conv["message_ids"]) == conv["message_count"]
            all_msg_ids.extend(conv["message_ids"])
    assert all(re.fullmatch(r"m_[A-Za-z0-9_-]{20,30}", m) for m in all_msg_ids)
    assert len(all_msg_ids) == len(set(all_msg_ids))


def test_dataset_every_folder_non_empty_from_50():
    totals = Sandbox(50, seed=11, anchor=ANCHOR).truth()["totals"]
    assert set(totals) == set(FOLDERS)
    assert all(n > 0 for n in totals.values())
    assert sum(totals.values()) == 50


def test_dataset_distribution_is_realistic():
    sandbox = Sandbox(3000, seed=5, anchor=ANCHOR)
    truth = sandbox.truth()
    convs = truth["conversations"]
    assert 0.65 < truth["totals"]["inbox"] / 3000 < 0.75
    long_threads = [c for c in convs if c["message_count"] >= 200]
    assert 0.01 < len(long_threads) / 3000 < 0.03
    assert all(c["message_count"] <= 300 for c in convs)
    deleted = [c for c in convs if c["participant"]["name"] in (None, "Facebook User")]
    assert 0.015 < len(deleted) / 3000 < 0.05
    assert any(c["participant"]["name"] is None for c in deleted)
    assert not any(c["can_reply"] for c in deleted)
    shared = Counter(c["updated_time"] for c in convs)
    assert sum(n for n in shared.values() if n > 1) / 3000 > 0.05
    skewed = [c for c in convs if c["reported_message_count"] != c["message_count"]]
    assert skewed
    assert all(c["reported_message_count"] > c["message_count"] for c in skewed)
    newest = max(c["updated_time"] for c in convs)
    oldest = min(c["updated_time"] for c in convs)
    assert newest == format_time(ANCHOR)
    assert oldest >= format_time(ANCHOR - 731 * 86400)


def test_dataset_default_anchor_is_at_least_an_hour_old():
    dataset = Dataset(10, seed=1)
    assert dataset.anchor <= time.time() - 3600
    assert dataset.anchor > time.time() - 86400 - 3600


def test_dataset_messages_cover_the_odd_cases():
    dataset = Dataset(400, seed=4, anchor=ANCHOR)
    page = next(iter(dataset.pages.values()))
    rendered = []
    for conv in page.conversations.values():
        msgs = dataset.messages_before(conv, conv.message_count, conv.message_count)
        assert msgs[0].created_ts == conv.updated_ts
        assert [m.created_ts for m in msgs] == sorted((m.created_ts for m in msgs), reverse=True)
        rendered.extend(m.render(conv) for m in msgs)
    assert any(len(m["message"]) == LONG_TEXT_LEN for m in rendered)
    assert any(m["message"] == "" and "attachments" in m for m in rendered)
    assert any("sticker" in m for m in rendered)
    assert any("shares" in m for m in rendered)
    assert any("file_url" in a for m in rendered for a in m.get("attachments", {}).get("data", []))
    odd = [
        a
        for m in rendered
        for a in m.get("attachments", {}).get("data", [])
        if a.get("mime_type") == "application/octet-stream"
    ]
    assert odd
    assert all(set(a) == {"id", "mime_type", "name", "size"} for a in odd)
    assert any(m["from"]["id"] == page.id for m in rendered)
    assert all(m.get("attachments") != {"data": []} for m in rendered)
    assert not any(v is None for m in rendered for v in m.values())


def test_dataset_20000_conversations_build_fast():
    start = time.perf_counter()
    sandbox = Sandbox(20_000, seed=9)
    elapsed = time.perf_counter() - start
    page = sandbox.dataset.pages[sandbox.page_id]
    assert len(page.conversations) == 20_000
    assert sum(len(keys) for keys in page.folders.values()) == 20_000
    assert elapsed < 3.0
