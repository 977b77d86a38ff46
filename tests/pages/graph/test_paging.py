"""Where the next page of a Graph list starts, with cursors and without (older API versions
page messages with `until` and `__paging_token` in `paging.next` only)."""

import pytest

from pages.graph.paging import next_position, position_params

NEXT = "https://graph.facebook.com/v26.0/t_1/messages"


def test_the_after_cursor_is_the_position_when_graph_gives_one():
    paging = {"cursors": {"before": "QVFIb", "after": "QVFIa"}, "next": f"{NEXT}?after=QVFIa"}
    assert next_position(paging) == "QVFIa"
    assert position_params("QVFIa") == {"after": "QVFIa"}


def test_without_cursors_the_paging_parameters_of_next_are_kept_and_nothing_else():
    paging = {
        "next": f"{NEXT}?access_token=EAABsecret&appsecret_proof=abc&fields=id,message"
        "&limit=25&until=1690000000&__paging_token=enc_AdB%2Bx"
    }

    position = next_position(paging)

    assert "EAABsecret" not in position
    assert "appsecret_proof" not in position
    assert position_params(position) == {"until": "1690000000", "__paging_token": "enc_AdB+x"}


@pytest.mark.parametrize(
    "paging",
    [
        None,
        {},
        {"cursors": {"after": "QVFIa"}},  # no `next`: the list ends here
        {"next": f"{NEXT}?access_token=EAAB&limit=25"},  # nothing that says where
        {"next": 42},
        "not paging",
    ],
)
def test_no_next_page(paging):
    assert next_position(paging) is None


def test_the_first_page_has_no_parameters():
    assert position_params(None) == {}
    assert position_params("") == {}


def test_a_position_never_smuggles_other_parameters():
    assert position_params("?access_token=EAAB&until=5&fields=x") == {"until": "5"}
