from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainon.adapters.channels.smpp.codec import Concat
from chainon.adapters.channels.smpp.reassembly import GAP_MARKER, Completed, Reassembler

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ALICE, BRAND = "+33612345678", "+33939000000"


def at(seq: int) -> datetime:
    """When ``part`` says a part arrived: its sequence, in seconds after T0."""
    return T0 + timedelta(seconds=seq)


def part(
    r: Reassembler, seq: int, total: int, text: str, ref: int = 7, sender: str = ALICE
) -> Completed | None:
    return r.add(sender, BRAND, Concat(ref, total, seq), text, at(seq))


def test_parts_out_of_order_make_one_message() -> None:
    r = Reassembler()
    assert part(r, 3, 3, "!") is None
    assert part(r, 1, 3, "Hello ") is None
    assert part(r, 2, 3, "world") == Completed(
        ALICE, BRAND, "Hello world!", 3, 3, complete=True, reference=7, first_at=at(3)
    )
    assert len(r) == 0


def test_duplicate_parts_are_ignored() -> None:
    r = Reassembler()
    assert part(r, 1, 2, "one ") is None
    assert part(r, 1, 2, "ONE AGAIN ") is None
    completed = part(r, 2, 2, "two")
    assert completed is not None
    assert (completed.text, completed.parts_received) == ("one two", 2)


def test_interleaved_messages_from_one_sender_are_kept_apart() -> None:
    r = Reassembler()
    assert part(r, 1, 2, "a1 ", ref=1) is None
    assert part(r, 2, 2, "b2", ref=2) is None
    assert part(r, 1, 3, "c1 ", ref=1) is None  # same reference, other total: another message
    first = part(r, 2, 2, "a2", ref=1)
    second = part(r, 1, 2, "b1 ", ref=2)
    assert (first and first.text, second and second.text) == ("a1 a2", "b1 b2")
    assert len(r) == 1


def test_same_reference_from_other_senders_is_another_message() -> None:
    r = Reassembler()
    assert part(r, 1, 2, "alice ", sender=ALICE) is None
    assert part(r, 2, 2, "bob", sender="+33700000000") is None
    assert len(r) == 2


def test_a_single_part_concat_completes_at_once() -> None:
    r = Reassembler()
    assert part(r, 1, 1, "solo") == Completed(
        ALICE, BRAND, "solo", 1, 1, complete=True, reference=7, first_at=at(1)
    )


@pytest.mark.parametrize("seq", [0, 4])
def test_sequence_out_of_range_is_refused(seq: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        part(Reassembler(), seq, 3, "x")


def test_expire_delivers_partial_text_with_gap_markers() -> None:
    r = Reassembler()
    for seq, text in [(2, "B"), (3, "C"), (5, "E")]:
        part(r, seq, 6, text)
    assert r.expire(T0 + timedelta(minutes=5), timeout=timedelta(minutes=5)) == []
    expired = r.expire(T0 + timedelta(minutes=6), timeout=timedelta(minutes=5))
    assert expired == [
        Completed(
            ALICE,
            BRAND,
            f"{GAP_MARKER}BC{GAP_MARKER}E{GAP_MARKER}",
            3,
            6,
            complete=False,
            reference=7,
            first_at=at(2),
        )
    ]
    assert len(r) == 0
    assert r.expire(T0 + timedelta(hours=1), timeout=timedelta(minutes=5)) == []


def test_runs_of_missing_parts_give_one_marker_and_oldest_expire_first() -> None:
    r = Reassembler()
    r.add(ALICE, BRAND, Concat(2, 4, 1), "late ", T0 + timedelta(minutes=1))
    r.add(ALICE, BRAND, Concat(1, 5, 1), "Hello ", T0)
    r.add(ALICE, BRAND, Concat(1, 5, 5), "bye", T0 + timedelta(minutes=9))
    expired = r.expire(T0 + timedelta(minutes=10), timeout=timedelta(minutes=5))
    assert [c.text for c in expired] == [f"Hello {GAP_MARKER}bye", f"late {GAP_MARKER}"]


def test_age_counts_from_the_first_part() -> None:
    r = Reassembler()
    r.add(ALICE, BRAND, Concat(1, 3, 1), "a", T0)
    r.add(ALICE, BRAND, Concat(1, 3, 2), "b", T0 + timedelta(minutes=4))
    assert len(r.expire(T0 + timedelta(minutes=5, seconds=1), timedelta(minutes=5))) == 1


def test_json_round_trip_mid_way() -> None:
    r = Reassembler()
    part(r, 2, 3, "wörld 😀 ")
    part(r, 1, 2, "other", ref=9)
    state = r.to_json()
    assert json.loads(state)["version"] == 1

    restored = Reassembler.from_json(state)
    assert restored.to_json() == state
    assert part(restored, 1, 3, "Hello ") is None
    done = part(restored, 3, 3, "!")
    assert done == Completed(
        ALICE, BRAND, "Hello wörld 😀 !", 3, 3, complete=True, reference=7, first_at=at(2)
    )
    expired = restored.expire(T0 + timedelta(hours=1), timedelta(minutes=5))
    assert [c.text for c in expired] == [f"other{GAP_MARKER}"]


def test_unknown_state_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        Reassembler.from_json('{"version": 99, "pending": []}')


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(st.text(max_size=5), min_size=1, max_size=8),
    data=st.data(),
)
def test_any_arrival_order_with_duplicates_rebuilds_the_text(
    texts: list[str], data: st.DataObject
) -> None:
    total = len(texts)
    *early, last = data.draw(st.permutations(range(1, total + 1)))
    duplicates = data.draw(st.lists(st.sampled_from(early), max_size=3)) if early else []
    r = Reassembler()
    results = []
    order = [*data.draw(st.permutations(early + duplicates)), last]
    for seq in order:
        if data.draw(st.booleans()):
            r = Reassembler.from_json(r.to_json())
        results.append(part(r, seq, total, texts[seq - 1]))
    assert [c for c in results if c is not None] == [
        Completed(
            ALICE,
            BRAND,
            "".join(texts),
            total,
            total,
            complete=True,
            reference=7,
            first_at=at(order[0]),
        )
    ]


def test_restored_parts_keep_their_age_and_complete_with_the_next_part() -> None:
    r = Reassembler()
    r.restore(ALICE, BRAND, Concat(7, 3, 3), "!", at(30))
    r.restore(ALICE, BRAND, Concat(7, 3, 1), "Hello ", at(10))
    r.restore(ALICE, BRAND, Concat(7, 3, 1), "HELLO ", at(40))  # a copy: the first one stays
    assert len(r) == 1
    done = part(r, 2, 3, "world")
    assert done is not None
    assert (done.text, done.first_at) == ("Hello world!", at(10))


def test_restoring_every_part_does_not_complete_the_message() -> None:
    r = Reassembler()
    r.restore(ALICE, BRAND, Concat(7, 2, 1), "a", T0)
    r.restore(ALICE, BRAND, Concat(7, 2, 2), "b", T0)
    assert len(r) == 1
    (expired,) = r.expire(T0 + timedelta(hours=1), timedelta(minutes=5))
    assert (expired.text, expired.complete) == ("ab", True)
