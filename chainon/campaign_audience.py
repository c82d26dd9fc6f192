"""A campaign's audience: numbered recipients in a table of the read-model database.

Why there, and why not a projection: the audience is the brand's input, not something
derived from events, so a projection rebuild could not recompute it (and must not drop
it); yet every process that needs it already holds that database — the API that takes
the upload, the views worker that sends, the CRM projection a filter is resolved from.
So it is a table of its own beside the read models, which ``projections rebuild`` and
``verify`` do not touch. Its rows are numbered (``position``, from 0, in file order), the
order the worker sends in and the campaign's cursor counts.

An upload is parsed row by row from a file on disk and written a thousand rows at a
time: a CSV of 100,000 rows is never held in memory. Each row is checked on its own; a
bad one is kept aside with its line and reason, the good ones go on.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, ClassVar
from uuid import UUID

from chainon import csv_rows
from chainon.csv_rows import Rejected
from chainon.domain.addresses import parse_address
from chainon.domain.campaign import AudienceFilter
from chainon.domain.channels import CHANNEL_ADDRESS_KIND, Channel
from chainon.domain.erasure import ERASED
from chainon.domain.errors import InvalidInput
from chainon.projections.crm_profile import CrmProfile, consent_clause
from chainon.projections.read_model_store import ReadModelStore

AUDIENCE = "campaign_audience"
REJECTS = "campaign_audience_rejects"
# Which campaigns exist and which the worker still has to look at: campaign events are
# the core's own (not published), so the worker and the list find them here.
REGISTRY = "campaign_registry"
CHUNK = 1000
MAX_COLUMNS = 50
ADDRESS_COLUMN = "to"


@dataclass(frozen=True)
class Recipient:
    position: int
    address: str
    attributes: dict[str, str]


@dataclass
class Imported:
    recipients: int = 0
    rejected: int = 0


class AudienceStore:
    def __init__(self, store: ReadModelStore) -> None:
        self.store = store
        self._ready = False

    @staticmethod
    def of(store: ReadModelStore) -> AudienceStore:
        """The store's one audience (its tables are checked once per store)."""
        found: AudienceStore | None = store.__dict__.get("_campaign_audience")
        if found is None:
            found = store.__dict__["_campaign_audience"] = AudienceStore(store)
        return found

    def ensure(self) -> None:
        if self._ready:
            return
        with self.store.transaction() as cur:
            self.store.lock_schema(cur)
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.store.qualify(AUDIENCE)} ("
                "campaign_id TEXT NOT NULL, position BIGINT NOT NULL, line BIGINT NOT NULL, "
                "address TEXT NOT NULL, attributes TEXT NOT NULL, "
                "PRIMARY KEY (campaign_id, position))"
            )
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.store.qualify(REJECTS)} ("
                "campaign_id TEXT NOT NULL, line BIGINT NOT NULL, reason TEXT NOT NULL, "
                "PRIMARY KEY (campaign_id, line))"
            )
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.store.qualify(REGISTRY)} ("
                "campaign_id TEXT PRIMARY KEY, brand_id TEXT NOT NULL, created_at TEXT NOT NULL, "
                "active INTEGER NOT NULL)"
            )
        self._ready = True

    # The registry

    def register(
        self, campaign_id: UUID, brand_id: UUID, created_at: str, *, active: bool = False
    ) -> None:
        """A draft is listed but not polled: scheduling it makes it active."""
        self.ensure()
        with self.store.transaction() as cur:
            cur.execute(
                self.store.placeholders(
                    f"INSERT INTO {self.store.qualify(REGISTRY)} "
                    "(campaign_id, brand_id, created_at, active) "
                    "VALUES (%(c)s, %(b)s, %(t)s, %(a)s) "
                    "ON CONFLICT (campaign_id) DO NOTHING"
                ),
                {"c": str(campaign_id), "b": str(brand_id), "t": created_at, "a": int(active)},
            )

    def set_active(self, campaign_id: UUID, active: bool) -> None:
        self.ensure()
        with self.store.transaction() as cur:
            cur.execute(
                self.store.placeholders(
                    f"UPDATE {self.store.qualify(REGISTRY)} SET active = %(a)s "
                    "WHERE campaign_id = %(c)s"
                ),
                {"c": str(campaign_id), "a": 1 if active else 0},
            )

    def active(self) -> list[UUID]:
        rows = self._fetch(
            f"SELECT campaign_id FROM {self.store.qualify(REGISTRY)} WHERE active = 1 "
            "ORDER BY created_at, campaign_id",
            {},
        )
        return [UUID(r["campaign_id"]) for r in rows]

    def of_brand(self, brand_id: UUID, limit: int = 200) -> list[UUID]:
        rows = self._fetch(
            f"SELECT campaign_id FROM {self.store.qualify(REGISTRY)} "
            "WHERE brand_id = %(b)s ORDER BY created_at DESC, campaign_id LIMIT %(n)s",
            {"b": str(brand_id), "n": limit},
        )
        return [UUID(r["campaign_id"]) for r in rows]

    # Filling it

    def import_csv(
        self, campaign_id: UUID, channel: Channel, source: IO[str], region: str
    ) -> Imported:
        """Replaces the campaign's audience with the good rows of ``source``."""
        self.ensure()
        self.clear(campaign_id)
        counts = Imported()
        with self._writer(campaign_id) as out:
            for item in _rows(source, channel, region):
                if isinstance(item, Rejected):
                    out.reject(item)
                    counts.rejected += 1
                else:
                    out.recipient(counts.recipients, *item)
                    counts.recipients += 1
        return counts

    def fill(self, campaign_id: UUID, recipients: list[tuple[str, dict[str, str]]]) -> int:
        """A filter's audience, resolved once when the campaign starts."""
        self.ensure()
        self.clear(campaign_id)
        with self._writer(campaign_id) as out:
            for position, (address, attributes) in enumerate(recipients):
                out.recipient(position, 0, address, attributes)
        return len(recipients)

    def clear(self, campaign_id: UUID) -> None:
        with self.store.transaction() as cur:
            for table in (AUDIENCE, REJECTS):
                cur.execute(
                    self.store.placeholders(
                        f"DELETE FROM {self.store.qualify(table)} WHERE campaign_id = %(c)s"
                    ),
                    {"c": str(campaign_id)},
                )

    def forget(self, brand_id: UUID, addresses: Iterable[str]) -> None:
        """An erased contact's rows in the brand's audiences: the address and attributes
        read "erased" (the row stays: positions are the campaign's cursor)."""
        self.ensure()
        audience, registry = self.store.qualify(AUDIENCE), self.store.qualify(REGISTRY)
        with self.store.transaction() as cur:
            for address in addresses:
                cur.execute(
                    self.store.placeholders(
                        f"UPDATE {audience} SET address = %(e)s, attributes = '{{}}' "
                        "WHERE address = %(a)s AND campaign_id IN "
                        f"(SELECT campaign_id FROM {registry} WHERE brand_id = %(b)s)"
                    ),
                    {"e": ERASED, "a": address, "b": str(brand_id)},
                )

    @contextmanager
    def _writer(self, campaign_id: UUID) -> Iterator[_Writer]:
        """Rows written ``CHUNK`` at a time, one transaction each, the rest at the end."""
        writer = _Writer(self.store, str(campaign_id))
        yield writer
        writer.flush()

    # Reading it

    def _fetch(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.ensure()
        with self.store.transaction() as cur:
            return self.store.fetch(cur, self.store.placeholders(sql), params)

    def recipients(self, campaign_id: UUID, start: int, limit: int) -> list[Recipient]:
        rows = self._fetch(
            f"SELECT position, address, attributes FROM {self.store.qualify(AUDIENCE)} "
            "WHERE campaign_id = %(c)s AND position >= %(s)s ORDER BY position "
            "LIMIT %(n)s",
            {"c": str(campaign_id), "s": start, "n": limit},
        )
        return [
            Recipient(int(r["position"]), r["address"], json.loads(r["attributes"])) for r in rows
        ]

    def rejected(self, campaign_id: UUID, limit: int = 1000) -> list[Rejected]:
        rows = self._fetch(
            f"SELECT line, reason FROM {self.store.qualify(REJECTS)} "
            "WHERE campaign_id = %(c)s ORDER BY line LIMIT %(n)s",
            {"c": str(campaign_id), "n": limit},
        )
        return [Rejected(int(r["line"]), r["reason"]) for r in rows]

    def size(self, campaign_id: UUID) -> int:
        rows = self._fetch(
            f"SELECT COUNT(*) AS n FROM {self.store.qualify(AUDIENCE)} WHERE campaign_id = %(c)s",
            {"c": str(campaign_id)},
        )
        return int(rows[0]["n"])


class _Writer:
    """A campaign's recipients and rejected lines, buffered together and inserted
    ``CHUNK`` rows at a time: an upload of any size is never held in memory."""

    _INSERTS: ClassVar[dict[str, str]] = {
        AUDIENCE: "(campaign_id, position, line, address, attributes) "
        "VALUES (%(c)s, %(p)s, %(l)s, %(a)s, %(t)s)",
        REJECTS: "(campaign_id, line, reason) VALUES (%(c)s, %(l)s, %(r)s)",
    }

    def __init__(self, store: ReadModelStore, campaign_id: str) -> None:
        self.store = store
        self.campaign_id = campaign_id
        self.rows: dict[str, list[dict[str, Any]]] = {AUDIENCE: [], REJECTS: []}

    def recipient(self, position: int, line: int, address: str, attributes: dict[str, str]) -> None:
        text = json.dumps(attributes, ensure_ascii=False)
        self._add(AUDIENCE, {"p": position, "l": line, "a": address, "t": text})

    def reject(self, rejected: Rejected) -> None:
        self._add(REJECTS, {"l": rejected.line, "r": rejected.reason})

    def _add(self, table: str, row: dict[str, Any]) -> None:
        self.rows[table].append({"c": self.campaign_id, **row})
        if sum(len(rows) for rows in self.rows.values()) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        batches = {table: rows for table, rows in self.rows.items() if rows}
        if not batches:
            return
        with self.store.transaction() as cur:
            for table, rows in batches.items():
                cur.executemany(
                    self.store.placeholders(
                        f"INSERT INTO {self.store.qualify(table)} {self._INSERTS[table]}"
                    ),
                    rows,
                )
        self.rows = {AUDIENCE: [], REJECTS: []}


def _rows(
    source: IO[str], channel: Channel, region: str
) -> Iterator[Rejected | tuple[int, str, dict[str, str]]]:
    """Each data row, checked: (line, address, attributes) or why it was left out. Lines
    are the file's, the header being line 1."""
    reader = csv.reader(source)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InvalidInput(
            "the CSV is empty: a header row naming `to` is needed", field="csv"
        ) from None
    except csv.Error as exc:
        raise InvalidInput(f"the header row is not CSV: {exc}", field="csv") from None
    if ADDRESS_COLUMN not in header:
        raise InvalidInput(f"the header row names no `{ADDRESS_COLUMN}` column", field="csv")
    if len(header) > MAX_COLUMNS or len(set(header)) != len(header) or "" in header:
        raise InvalidInput(
            f"the header row needs distinct, non-empty names (at most {MAX_COLUMNS})", field="csv"
        )
    at = header.index(ADDRESS_COLUMN)
    kind = CHANNEL_ADDRESS_KIND[channel]
    seen: dict[bytes, int] = {}
    for item in csv_rows.rows(reader, header):
        if isinstance(item, Rejected):
            yield item
            continue
        line, row = item
        try:
            address = parse_address(row[at].strip(), default_region=region, field="to")
        except InvalidInput as exc:
            yield Rejected(line, f"to: {exc.detail}")
            continue
        if address.kind is not kind:
            yield Rejected(line, f"to: not an address {channel.value} can reach")
            continue
        key = hashlib.blake2b(address.value.encode(), digest_size=12).digest()
        if key in seen:
            yield Rejected(line, f"to: {address.value} is on line {seen[key]} already")
            continue
        seen[key] = line
        attributes = {h: c.strip() for h, c in zip(header, row, strict=True) if h != ADDRESS_COLUMN}
        yield line, address.value, attributes


def from_crm(
    store: ReadModelStore, brand_id: UUID, wanted: AudienceFilter, channel: Channel
) -> list[tuple[str, dict[str, str]]]:
    """The CRM's contacts with every wanted tag and attribute, an address ``channel`` (the
    filter's, else the campaign's) reaches and the wanted consent (on the campaign's
    channel unless the criterion names one): (address, attributes), in contact order.
    The contact's name is its ``name`` attribute unless it has one of its own."""
    projection = CrmProfile()
    kind = CHANNEL_ADDRESS_KIND[wanted.channel or channel].value
    clauses = ["p.brand_id = %(b)s"]
    params: dict[str, Any] = {"b": str(brand_id), "k": kind}
    for i, tag in enumerate(wanted.tags):
        clauses.append(
            f"p.contact_id IN (SELECT contact_id FROM {{crm_tags}} WHERE tag = %(t{i})s)"
        )
        params[f"t{i}"] = tag
    for i, (key, value) in enumerate(sorted(wanted.attributes.items())):
        clauses.append(
            "p.contact_id IN (SELECT contact_id FROM {crm_attributes} "
            f"WHERE key = %(ak{i})s AND value = %(av{i})s)"
        )
        params[f"ak{i}"], params[f"av{i}"] = key, value
    if wanted.consent is not None:
        clauses.append(consent_clause(wanted.consent, params, channel.value))
    rows = store.query(
        projection,
        "SELECT p.contact_id, p.name, MIN(a.address) AS address FROM {crm_contacts} p "
        "JOIN {crm_addresses} a ON a.contact_id = p.contact_id AND a.kind = %(k)s WHERE "
        + " AND ".join(clauses)
        + " GROUP BY p.contact_id, p.name ORDER BY p.contact_id",
        params,
    )
    attributes: dict[str, dict[str, str]] = {}
    for start in range(0, len(rows), CHUNK):
        ids = {f"c{i}": r["contact_id"] for i, r in enumerate(rows[start : start + CHUNK])}
        listed = ", ".join(f"%({k})s" for k in ids)
        for r in store.query(
            projection,
            f"SELECT contact_id, key, value FROM {{crm_attributes}} WHERE contact_id IN ({listed})",
            ids,
        ):
            attributes.setdefault(r["contact_id"], {})[r["key"]] = r["value"]
    found = []
    for r in rows:
        given = attributes.get(r["contact_id"], {})
        if r["name"] and "name" not in given:
            given["name"] = r["name"]
        found.append((r["address"], given))
    return found
