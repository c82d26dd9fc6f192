"""Fed from the events topic, the views apply each partition in order but the partitions at
their own pace. The position they report (what `min_position` reads wait for) is the
low-water mark: every event up to it applied, never merely the highest one applied."""

from __future__ import annotations

from pathlib import Path

from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.projections.catalogue import all_projections
from chainon.projections.facts import facts_of
from chainon.projections.projection import Fact
from chainon.projections.rebuild import rebuild_many
from chainon.projections.runner import MARK, Views
from chainon.projections.sqlite import SQLiteReadModels
from chainon.views import views_of

SMS = "+33939000001"


def two_conversations(tmp_path: Path) -> tuple[Core, list[Fact], list[Fact]]:
    """A store with two consumers' messages; each one's facts, as two partitions carry them."""
    core = Core(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "s")}
    )
    core.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, SMS)])
    for i, sender in enumerate(["+33612345601", "+33612345602", "+33612345601"]):
        core.handle(
            cmd.ReceiveMessage(
                provider="p",
                provider_message_id=str(i),
                channel=Channel.SMS,
                sender=sender,
                recipient=SMS,
                body=f"m{i}",
            )
        )
    head = core.recorder.max_notification_id() or 0
    notifications = core.recorder.select_notifications(start=1, limit=head)
    facts = facts_of(core.mapper.to_domain_event, notifications)
    conversations = [f for f in facts if f.aggregate_type == "Conversation"]
    first, second = (
        conversations[0].aggregate_id,
        next(
            f.aggregate_id for f in conversations if f.aggregate_id != conversations[0].aggregate_id
        ),
    )
    others = [f for f in facts if f.aggregate_id not in (first, second)]
    return (
        core,
        others + [f for f in facts if f.aggregate_id == first],
        [f for f in facts if f.aggregate_id == second],
    )


def bus_fed_views(core: Core, path: Path) -> Views:
    return views_of(core, SQLiteReadModels(path), all_projections(), fed_by_bus=True)


def test_a_partition_ahead_of_another_does_not_move_the_position_past_the_gap(
    tmp_path: Path,
) -> None:
    core, ahead, behind = two_conversations(tmp_path)
    views = bus_fed_views(core, tmp_path / "views.sqlite3")
    head = core.recorder.max_notification_id() or 0
    first_missing = min(f.position for f in behind)
    assert max(f.position for f in ahead) > first_missing  # the gap is real

    views.apply(ahead)

    assert views.position == first_missing - 1
    assert all(s.position == first_missing - 1 and s.lag > 0 for s in views.status())
    # What a reader of the highest position applied would have trusted:
    assert all(views.store.position(p) > first_missing for p in views.projections.values())

    views.apply(behind)

    assert views.position == head  # the trailing index entries are no projection's business
    assert all(s.lag == 0 for s in views.status())


def test_the_mark_is_kept_in_the_store_for_every_process(tmp_path: Path) -> None:
    core, ahead, behind = two_conversations(tmp_path)
    path = tmp_path / "views.sqlite3"
    views = bus_fed_views(core, path)
    views.apply(ahead + behind)
    views.advance_marks()
    head = core.recorder.max_notification_id() or 0

    another = bus_fed_views(core, path)  # e.g. an API process started later
    assert all(another.store.named_position(name + MARK) == head for name in another.projections)
    assert another.position == head


def test_a_reader_moves_the_mark_a_bounded_stretch_per_call(tmp_path: Path) -> None:
    core, ahead, behind = two_conversations(tmp_path)
    views = bus_fed_views(core, tmp_path / "views.sqlite3")
    views.apply(ahead + behind)
    projection = next(iter(views.projections.values()))

    assert views.applied_through(projection, scan=1) == 1
    assert views.applied_through(projection, scan=1) == 2  # from where the last call stopped
    assert views.applied_through(projection, scan=10_000) == core.recorder.max_notification_id()


def test_a_rebuilt_projection_is_at_the_head_even_when_index_entries_end_the_store(
    tmp_path: Path,
) -> None:
    core, ahead, behind = two_conversations(tmp_path)
    head = core.recorder.max_notification_id() or 0
    assert max(f.position for f in ahead + behind) < head  # the store ends with index entries
    views = views_of(core, SQLiteReadModels(tmp_path / "views.sqlite3"), all_projections())

    rebuild_many(views, sorted(views.projections))  # `projections rebuild all`, no feed running

    assert [s.lag for s in views.status()] == [0] * len(views.projections)
    assert views.position == head
