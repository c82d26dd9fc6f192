"""The steady load's traffic opens its new conversations at one steady share, never a
message to a conversation before the one that opens it, and the watcher can rebuild it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bench.registry import Context
from bench.scenarios.steady_load import steady_rate
from bench.traffic import earlier_inbound, steady_conversation, steady_inbound


@given(
    st.integers(1, 3000).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))),
    st.integers(0, 400),
)
def test_each_new_conversation_opens_on_its_share_and_none_is_written_before(
    shape: tuple[int, int], existing: int
) -> None:
    count, new = shape
    opened: dict[int, int] = {}
    for k in range(count):
        c = steady_conversation(k, count, new, existing)
        assert 0 <= c < existing + new
        if c >= existing:  # a new one: written only once it opened
            opened.setdefault(c - existing, k)
    assert sorted(opened) == list(range(new))  # every new one is opened
    for c, first in opened.items():  # new conversation c opens with message ceil(c·N/M)
        assert first == -(-c * count // new)


def test_one_message_in_ten_opens_a_conversation_all_along() -> None:
    firsts: dict[str, str] = {}
    earlier = {m.sender for m in earlier_inbound(300)}
    for m in steady_inbound(3000, 300, 300):
        if m.sender not in earlier:
            firsts.setdefault(m.sender, m.provider_message_id)
    opening = sorted(int(i[1:]) for i in firsts.values())
    assert opening == list(range(0, 3000, 10))


def test_the_conversations_open_before_take_their_share_of_the_load() -> None:
    senders = Counter(m.sender for m in steady_inbound(3000, 300, 300))
    earlier = {m.sender for m in earlier_inbound(300)}
    assert len(earlier) == 300
    assert sum(n for s, n in senders.items() if s in earlier) > 1000
    assert max(senders.values()) < 40  # no conversation takes a wave of the load


def test_a_slice_of_the_traffic_is_the_same_messages_as_the_whole() -> None:
    whole = steady_inbound(500, 50, 50)
    assert steady_inbound(500, 50, 50, 120, 260) == whole[120:260]


def test_the_rate_is_half_the_burst_of_the_same_mode_in_the_run() -> None:
    nowhere = Path("/nonexistent")  # a context only: nothing is read or written
    measured = {"inbound-burst@embedded": 1201.0, "inbound-burst@distributed": 480.0}
    embedded = Context(size="quick", mode="embedded", data_dir=nowhere, measured=measured)
    assert steady_rate(embedded) == (600, "half of inbound-burst@embedded in this run (1,201/s)")
    distributed = Context(size="quick", mode="distributed", data_dir=nowhere, measured=measured)
    assert steady_rate(distributed)[0] == 240
    alone = Context(size="quick", mode="embedded", data_dir=nowhere)
    rate, said = steady_rate(alone)
    assert rate == alone.counts.steady_rate
    assert "no inbound-burst@embedded in this run" in said
