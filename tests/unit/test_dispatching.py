"""What the dispatch worker may commit: each partition up to its first record not done."""

from __future__ import annotations

from chainon.adapters.bus.port import Record
from chainon.dispatching import Progress


def record(partition: int, offset: int) -> Record:
    return Record("chainon.outbound.v1", partition, offset, f"k{offset}", b"{}")


def test_a_partition_commits_up_to_its_first_record_still_in_a_lane() -> None:
    progress = Progress()
    records = [record(0, n) for n in range(4)] + [record(1, n) for n in range(2)]
    assert all(progress.took(r) for r in records)
    assert len(progress) == 6
    assert progress.committable() == []
    # Offset 0 of partition 0 waits for its link (the relay is down); the rest is done.
    for r in records[1:]:
        progress.done(r)
    assert progress.committable() == [records[5]]  # partition 1 whole, partition 0 not at all
    assert len(progress) == 4
    progress.done(records[0])
    assert progress.committable() == [records[3]]
    assert len(progress) == 0
    assert progress.committable() == []


def test_a_record_handed_out_again_while_in_hand_is_not_taken_twice() -> None:
    progress = Progress()
    first = record(0, 7)
    assert progress.took(first)
    assert not progress.took(record(0, 7))
    progress.done(first)
    assert progress.committable() == [first]
    assert progress.took(record(0, 7))  # after its commit, a redelivery is taken again
