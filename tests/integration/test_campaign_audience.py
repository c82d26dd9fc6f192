"""A campaign's audience table, in a real SQLite read-model database: what an upload or a
filter writes, chunk after chunk, reads back whole and in order."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from chainon.campaign_audience import CHUNK, AudienceStore, Rejected
from chainon.domain.channels import Channel
from chainon.projections.sqlite import SQLiteReadModels


@pytest.fixture
def audience(tmp_path: Path) -> Iterator[AudienceStore]:
    store = SQLiteReadModels(tmp_path / "views.sqlite3")
    yield AudienceStore(store)
    store.close()


def test_an_upload_over_several_chunks_keeps_every_good_row_in_order_and_every_bad_one(
    audience: AudienceStore,
) -> None:
    rows = CHUNK * 2 + 500
    lines = ["to,name"]
    for i in range(rows):
        lines.append("not-an-email,x" if i % 7 == 3 else f"client{i:05d}@example.org,C{i}")
    campaign = uuid4()

    imported = audience.import_csv(campaign, Channel.EMAIL, io.StringIO("\n".join(lines)), "FR")

    bad = [i for i in range(rows) if i % 7 == 3]
    assert (imported.recipients, imported.rejected) == (rows - len(bad), len(bad))
    assert audience.size(campaign) == rows - len(bad)
    taken = audience.recipients(campaign, 0, rows)
    assert [r.position for r in taken] == list(range(rows - len(bad)))
    good = [i for i in range(rows) if i % 7 != 3]
    assert [r.address for r in taken] == [f"client{i:05d}@example.org" for i in good]
    assert taken[-1].attributes == {"name": f"C{good[-1]}"}
    rejected = audience.rejected(campaign, limit=rows)
    assert [r.line for r in rejected] == [i + 2 for i in bad]  # the header is line 1
    assert rejected[0] == Rejected(5, rejected[0].reason)


def test_a_filter_fill_replaces_the_audience_chunk_after_chunk(audience: AudienceStore) -> None:
    campaign = uuid4()
    audience.import_csv(campaign, Channel.EMAIL, io.StringIO("to\nbad\n"), "FR")
    found = [(f"c{i}@example.org", {"city": "Lyon", "n": str(i)}) for i in range(CHUNK + 345)]

    assert audience.fill(campaign, found) == CHUNK + 345

    assert audience.size(campaign) == CHUNK + 345
    assert audience.rejected(campaign) == []
    later = audience.recipients(campaign, CHUNK, 10)
    assert [(r.position, r.address, r.attributes) for r in later[:2]] == [
        (CHUNK, f"c{CHUNK}@example.org", {"city": "Lyon", "n": str(CHUNK)}),
        (CHUNK + 1, f"c{CHUNK + 1}@example.org", {"city": "Lyon", "n": str(CHUNK + 1)}),
    ]
