"""The CRM profile: one row per contact, with what a support agent or a marketer looks up.

Addresses and channels, first and last seen, messages counted per channel and direction,
conversation tags, attributes, last agent, consent per purpose (from the contact's consent
ledger: the latest change of each purpose on each channel, '' for brand-wide, so that
a filter asks what a send on a channel would be told); the CSAT ratings flows collected,
one row per bot and dialogue run linked to the contact through its conversation when read,
so that they count once whatever order the facts come in. The RCS capability column is
there for the RCS work to fill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from chainon.domain.bot import CSAT_ATTRIBUTE, CSAT_SCORES
from chainon.domain.consent import ConsentCriterion
from chainon.domain.erasure import ERASED
from chainon.projections.projection import Fact, Lookup, Projection, Table, Tx, sortable_utc
from chainon.projections.read_model_store import ReadModelStore


@dataclass(frozen=True)
class ProfileMark:
    """Where a page of profiles ended: the sort key of its last row."""

    last_seen_at: str  # "" when never seen: such profiles come last
    contact_id: str


@dataclass(frozen=True)
class ProfileFilter:
    brand_id: UUID
    address: str | None = None  # normalised (E.164, lower-case email)
    name: str | None = None  # case-insensitive substring
    tag: str | None = None
    attribute: tuple[str, str] | None = None  # key, value
    consent: ConsentCriterion | None = None
    after: ProfileMark | None = None  # the next page: profiles after this one
    limit: int = 50


@dataclass
class Profile:
    contact_id: str
    brand_id: str
    name: str | None
    first_seen_at: str
    last_seen_at: str | None
    last_channel: str | None
    last_agent: str | None
    rcs_capable: bool | None
    marketing_consent: bool | None  # the last word on marketing, whatever its channel
    service_consent: bool | None
    csat_average: float | None
    csat_count: int
    conversation_count: int
    addresses: list[dict[str, str]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)  # channel, direction, count
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)


class CrmProfile(Projection):
    name = "crm_profile"
    tables = (
        Table(
            "crm_contacts",
            """contact_id TEXT PRIMARY KEY, brand_id TEXT NOT NULL, name TEXT,
            first_seen_at TEXT NOT NULL, last_seen_at TEXT, last_channel TEXT, last_agent TEXT,
            last_agent_at TEXT,
            rcs_capable INTEGER,
            csat_sum INTEGER NOT NULL DEFAULT 0, csat_count INTEGER NOT NULL DEFAULT 0,
            conversation_count INTEGER NOT NULL DEFAULT 0""",
            indexes=("brand_id, last_seen_at", "brand_id, name"),
        ),
        Table(
            "crm_addresses",
            """brand_id TEXT NOT NULL, address TEXT NOT NULL, kind TEXT NOT NULL,
            contact_id TEXT NOT NULL, PRIMARY KEY (brand_id, address)""",
            indexes=("contact_id",),
        ),
        Table(
            "crm_messages",
            """contact_id TEXT NOT NULL, channel TEXT NOT NULL, direction TEXT NOT NULL,
            count INTEGER NOT NULL, PRIMARY KEY (contact_id, channel, direction)""",
        ),
        Table(
            "crm_tags",
            """contact_id TEXT NOT NULL, tag TEXT NOT NULL, conversations INTEGER NOT NULL,
            PRIMARY KEY (contact_id, tag)""",
            indexes=("tag",),
        ),
        Table(
            "crm_attributes",
            """contact_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (contact_id, key)""",
            indexes=("key, value",),
        ),
        Table(
            "crm_conversations",
            "conversation_id TEXT PRIMARY KEY, contact_id TEXT NOT NULL",
        ),
        Table("crm_bots", "bot_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL"),
        Table(
            "crm_ratings",
            "bot_id TEXT NOT NULL, run INTEGER NOT NULL, score INTEGER NOT NULL, "
            "PRIMARY KEY (bot_id, run)",
        ),
        # A ledger's changes name no contact: its first event does.
        Table(
            "crm_consent_ledgers",
            "consent_id TEXT PRIMARY KEY, contact_id TEXT NOT NULL",
            indexes=("contact_id",),
        ),
        Table(
            "crm_consent",
            """consent_id TEXT NOT NULL, purpose TEXT NOT NULL, channel TEXT NOT NULL,
            granted INTEGER NOT NULL, version INTEGER NOT NULL, changed_at TEXT NOT NULL,
            PRIMARY KEY (consent_id, purpose, channel)""",
            indexes=("purpose, granted",),
        ),
    )
    facts = frozenset(
        {
            "Contact.Registered",
            "Contact.AddressAdded",
            "Contact.Renamed",
            "Contact.AttributeSet",
            "Contact.AttributeCleared",
            "Contact.ChannelReached",
            "Contact.ConversationStarted",
            "Contact.ContactErased",
            "Conversation.Opened",
            "Conversation.MessageReceived",
            "Conversation.MessageQueued",
            "Conversation.Assigned",
            "Conversation.Tagged",
            "Conversation.Untagged",
            "Consent.Opened",
            "Consent.ConsentGranted",
            "Consent.ConsentRevoked",
            "Bot.Opened",
            "Bot.AnswerCollected",
        }
    )
    lookups = (Lookup("crm_conversations", "conversation_id", "contact_id"),)

    def apply(self, tx: Tx, fact: Fact) -> None:
        """Order-independent across aggregates: on Kafka a contact's facts and its
        conversations' facts arrive on different partitions, in either order, and the row
        must come out the same (earliest first seen, latest last seen, latest agent)."""
        d, at = fact.data, stamp(fact.timestamp)
        contact = fact.aggregate_id
        match fact.type:
            case "Contact.Registered":
                self._ensure(tx, contact, d["brand_id"], at)
                self._address(tx, contact, d["address_kind"], d["address"])
            case "Contact.AddressAdded":
                self._address(tx, contact, d["address_kind"], d["address"])
            case "Contact.Renamed":
                self._set(tx, contact, "name", d["name"])
            case "Contact.AttributeSet":
                tx.execute(
                    "INSERT INTO {crm_attributes} (contact_id, key, value) VALUES (%(c)s, %(k)s, "
                    "%(v)s) ON CONFLICT (contact_id, key) DO UPDATE SET value = excluded.value",
                    {"c": contact, "k": d["key"], "v": d["value"]},
                )
            case "Contact.AttributeCleared":
                tx.execute(
                    "DELETE FROM {crm_attributes} WHERE contact_id = %(c)s AND key = %(k)s",
                    {"c": contact, "k": d["key"]},
                )
            case "Contact.ChannelReached":
                self._set(tx, contact, "last_channel", d["channel"])
            case "Contact.ContactErased":
                self._erased(tx, contact)
            case "Contact.ConversationStarted":
                tx.execute(
                    "UPDATE {crm_contacts} SET conversation_count = CASE WHEN "
                    "conversation_count < %(n)s THEN %(n)s ELSE conversation_count END "
                    "WHERE contact_id = %(c)s",
                    {"c": contact, "n": d["number"]},
                )
                self._link(tx, d["conversation_id"], contact)
            case "Conversation.Opened":
                self._ensure(tx, d["contact_id"], d["brand_id"], at)
                self._link(tx, fact.aggregate_id, d["contact_id"])
            case "Conversation.MessageReceived" | "Conversation.MessageQueued":
                owner = self._owner(tx, fact.aggregate_id)
                if owner is None:
                    return
                inbound = fact.type.endswith("Received")
                direction = "inbound" if inbound else "outbound"
                key = {"contact_id": owner, "channel": d["channel"], "direction": direction}
                tx.add("crm_messages", key, {"count": 1})
                if inbound:
                    tx.execute(
                        "UPDATE {crm_contacts} SET last_seen_at = %(at)s WHERE contact_id = %(c)s "
                        "AND (last_seen_at IS NULL OR last_seen_at < %(at)s)",
                        {"c": owner, "at": at},
                    )
            case "Conversation.Assigned":
                owner = self._owner(tx, fact.aggregate_id)
                if owner is not None and d["agent"]:
                    tx.execute(
                        "UPDATE {crm_contacts} SET last_agent = %(a)s, last_agent_at = %(at)s "
                        "WHERE contact_id = %(c)s AND (last_agent_at IS NULL OR "
                        "last_agent_at <= %(at)s)",
                        {"c": owner, "a": d["agent"], "at": at},
                    )
            case "Conversation.Tagged" | "Conversation.Untagged":
                owner = self._owner(tx, fact.aggregate_id)
                if owner is None:
                    return
                step = 1 if fact.type == "Conversation.Tagged" else -1
                tx.execute(
                    "INSERT INTO {crm_tags} (contact_id, tag, conversations) VALUES (%(c)s, "
                    "%(t)s, %(s)s) ON CONFLICT (contact_id, tag) DO UPDATE SET "
                    "conversations = {crm_tags}.conversations + %(s)s",
                    {"c": owner, "t": d["tag"], "s": step},
                )
                tx.execute(
                    "DELETE FROM {crm_tags} WHERE contact_id = %(c)s AND conversations <= 0",
                    {"c": owner},
                )

            case "Bot.Opened":
                tx.execute(
                    "INSERT INTO {crm_bots} (bot_id, conversation_id) VALUES (%(b)s, %(v)s) "
                    "ON CONFLICT (bot_id) DO NOTHING",
                    {"b": fact.aggregate_id, "v": d["conversation_id"]},
                )
            case "Bot.AnswerCollected":
                if d.get("store_as") == CSAT_ATTRIBUTE and d["value"] in CSAT_SCORES:
                    tx.execute(
                        "INSERT INTO {crm_ratings} (bot_id, run, score) VALUES (%(b)s, %(r)s, "
                        "%(s)s) ON CONFLICT (bot_id, run) DO NOTHING",
                        {"b": fact.aggregate_id, "r": d["run"], "s": int(d["value"])},
                    )
            case "Consent.Opened":
                tx.execute(
                    "INSERT INTO {crm_consent_ledgers} (consent_id, contact_id) VALUES (%(l)s, "
                    "%(c)s) ON CONFLICT (consent_id) DO NOTHING",
                    {"l": fact.aggregate_id, "c": d["contact_id"]},
                )
            case "Consent.ConsentGranted" | "Consent.ConsentRevoked":
                tx.execute(
                    "INSERT INTO {crm_consent} (consent_id, purpose, channel, granted, version, "
                    "changed_at) VALUES (%(l)s, %(p)s, %(ch)s, %(g)s, %(v)s, %(at)s) "
                    "ON CONFLICT (consent_id, purpose, channel) DO UPDATE SET "
                    "granted = excluded.granted, version = excluded.version, "
                    "changed_at = excluded.changed_at "
                    "WHERE excluded.version > {crm_consent}.version",
                    {
                        "l": fact.aggregate_id,
                        "p": d["purpose"],
                        "ch": d["channel"] or "",
                        "g": 1 if fact.type.endswith("Granted") else 0,
                        "v": fact.aggregate_version,
                        "at": at,
                    },
                )

    @staticmethod
    def _ensure(tx: Tx, contact: str, brand: str, at: str) -> None:
        tx.execute(
            "INSERT INTO {crm_contacts} (contact_id, brand_id, first_seen_at) "
            "VALUES (%(c)s, %(b)s, %(at)s) ON CONFLICT (contact_id) DO UPDATE SET "
            "first_seen_at = CASE WHEN excluded.first_seen_at < {crm_contacts}.first_seen_at "
            "THEN excluded.first_seen_at ELSE {crm_contacts}.first_seen_at END",
            {"c": contact, "b": brand, "at": at},
        )

    @staticmethod
    def _erased(tx: Tx, contact: str) -> None:
        """At once what a rebuild would show: no address, the name and values "erased"."""
        params = {"c": contact, "e": ERASED}
        tx.execute("DELETE FROM {crm_addresses} WHERE contact_id = %(c)s", params)
        tx.execute(
            "UPDATE {crm_contacts} SET name = %(e)s WHERE contact_id = %(c)s AND name IS NOT NULL",
            params,
        )
        tx.execute("UPDATE {crm_attributes} SET value = %(e)s WHERE contact_id = %(c)s", params)

    @staticmethod
    def _address(tx: Tx, contact: str, kind: str, address: str) -> None:
        if address == ERASED:  # an erased contact is found at no address
            return
        tx.execute(
            "INSERT INTO {crm_addresses} (brand_id, address, kind, contact_id) "
            "SELECT brand_id, %(a)s, %(k)s, contact_id FROM {crm_contacts} "
            "WHERE contact_id = %(c)s ON CONFLICT (brand_id, address) DO NOTHING",
            {"a": address, "k": kind, "c": contact},
        )

    @staticmethod
    def _set(tx: Tx, contact: str, column: str, value: Any) -> None:
        tx.execute(
            f"UPDATE {{crm_contacts}} SET {column} = %(v)s WHERE contact_id = %(c)s",
            {"v": value, "c": contact},
        )

    @staticmethod
    def _link(tx: Tx, conversation: str, contact: str) -> None:
        tx.execute(
            "INSERT INTO {crm_conversations} (conversation_id, contact_id) "
            "VALUES (%(v)s, %(c)s) ON CONFLICT (conversation_id) DO NOTHING",
            {"v": conversation, "c": contact},
        )
        tx.inserted("crm_conversations", conversation, {"contact_id": contact})

    @staticmethod
    def _owner(tx: Tx, conversation: str) -> str | None:
        row = tx.lookup("crm_conversations", conversation)
        return None if row is None else str(row["contact_id"])


def stamp(moment: datetime) -> str:
    """Fixed-width UTC text, so that comparing strings compares times, on both backends:
    ``sortable_utc``'s (it was ``strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")``, five times
    slower), but a naive time is local here."""
    if moment.tzinfo is not None:
        return sortable_utc(moment)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# Never seen sorts last on both backends (PostgreSQL puts NULL first in a descending order,
# SQLite last), so that a page's mark is a plain comparison.
SEEN = "COALESCE(p.last_seen_at, '')"


def mark(found: Profile) -> ProfileMark:
    return ProfileMark(found.last_seen_at or "", found.contact_id)


def search(store: ReadModelStore, where: ProfileFilter) -> list[Profile]:
    clauses = ["p.brand_id = %(b)s"]
    params: dict[str, Any] = {"b": str(where.brand_id), "limit": where.limit}
    if where.address is not None:
        clauses.append(
            "p.contact_id IN (SELECT contact_id FROM {crm_addresses} "
            "WHERE brand_id = %(b)s AND address = %(a)s)"
        )
        params["a"] = where.address
    if where.name is not None:
        clauses.append("LOWER(p.name) LIKE %(n)s")
        params["n"] = "%" + where.name.lower().replace("%", "").replace("_", "") + "%"
    if where.tag is not None:
        clauses.append("p.contact_id IN (SELECT contact_id FROM {crm_tags} WHERE tag = %(t)s)")
        params["t"] = where.tag
    if where.attribute is not None:
        clauses.append(
            "p.contact_id IN (SELECT contact_id FROM {crm_attributes} "
            "WHERE key = %(k)s AND value = %(v)s)"
        )
        params["k"], params["v"] = where.attribute
    if where.consent is not None:
        clauses.append(consent_clause(where.consent, params))
    if where.after is not None:
        clauses.append(
            f"({SEEN} < %(after_seen)s OR "
            f"({SEEN} = %(after_seen)s AND p.contact_id > %(after_id)s))"
        )
        params["after_seen"], params["after_id"] = where.after.last_seen_at, where.after.contact_id
    sql = (
        "SELECT p.* FROM {crm_contacts} p WHERE " + " AND ".join(clauses) + " "
        f"ORDER BY {SEEN} DESC, p.contact_id LIMIT %(limit)s"
    )
    projection = CrmProfile()
    return [_profile(store, projection, row) for row in store.query(projection, sql, params)]


def consent_clause(
    criterion: ConsentCriterion, params: dict[str, Any], channel: str | None = None
) -> str:
    """SQL on ``p.contact_id`` for the criterion, on its channel (else ``channel``, else
    the last word on any channel), its parameters added to ``params``."""
    on = criterion.channel.value if criterion.channel else channel
    params["kp"] = criterion.purpose.value
    where = "k.purpose = %(kp)s"
    later = "n.consent_id = k.consent_id AND n.purpose = k.purpose AND n.version > k.version"
    if on is not None:
        params["kc"] = on
        where += " AND k.channel IN ('', %(kc)s)"
        later += " AND n.channel IN ('', %(kc)s)"
    said = (
        "SELECT l.contact_id FROM {crm_consent_ledgers} l JOIN {crm_consent} k "
        f"ON k.consent_id = l.consent_id WHERE {where}"
    )
    if criterion.state == "none":
        return f"p.contact_id NOT IN ({said})"
    params["kg"] = 1 if criterion.state == "granted" else 0
    return (
        f"p.contact_id IN ({said} AND k.granted = %(kg)s AND NOT EXISTS "
        f"(SELECT 1 FROM {{crm_consent}} n WHERE {later}))"
    )


def profile(store: ReadModelStore, brand_id: UUID, contact_id: UUID) -> Profile | None:
    projection = CrmProfile()
    rows = store.query(
        projection,
        "SELECT * FROM {crm_contacts} WHERE contact_id = %(c)s AND brand_id = %(b)s",
        {"c": str(contact_id), "b": str(brand_id)},
    )
    return _profile(store, projection, rows[0]) if rows else None


def _profile(store: ReadModelStore, projection: CrmProfile, row: dict[str, Any]) -> Profile:
    c = {"c": row["contact_id"]}
    (csat,) = store.query(
        projection,
        "SELECT COUNT(r.score) AS n, SUM(r.score) AS total FROM {crm_conversations} v "
        "JOIN {crm_bots} b ON b.conversation_id = v.conversation_id "
        "JOIN {crm_ratings} r ON r.bot_id = b.bot_id WHERE v.contact_id = %(c)s",
        c,
    )
    consent: dict[str, bool] = {}
    for r in store.query(
        projection,
        "SELECT k.purpose, k.granted FROM {crm_consent_ledgers} l JOIN {crm_consent} k "
        "ON k.consent_id = l.consent_id WHERE l.contact_id = %(c)s ORDER BY k.version",
        c,
    ):
        consent[r["purpose"]] = bool(r["granted"])  # the latest change of each purpose wins
    return Profile(
        contact_id=row["contact_id"],
        brand_id=row["brand_id"],
        name=row["name"],
        first_seen_at=row["first_seen_at"],
        last_seen_at=row["last_seen_at"],
        last_channel=row["last_channel"],
        last_agent=row["last_agent"],
        rcs_capable=None if row["rcs_capable"] is None else bool(row["rcs_capable"]),
        marketing_consent=consent.get("marketing"),
        service_consent=consent.get("service"),
        csat_average=round(float(csat["total"]) / csat["n"], 2) if csat["n"] else None,
        csat_count=csat["n"],
        conversation_count=row["conversation_count"],
        addresses=[
            {"kind": r["kind"], "value": r["address"]}
            for r in store.query(
                projection,
                "SELECT kind, address FROM {crm_addresses} WHERE contact_id = %(c)s "
                "ORDER BY kind, address",
                c,
            )
        ],
        messages=store.query(
            projection,
            "SELECT channel, direction, count FROM {crm_messages} WHERE contact_id = %(c)s "
            "ORDER BY channel, direction",
            c,
        ),
        tags=[
            r["tag"]
            for r in store.query(
                projection, "SELECT tag FROM {crm_tags} WHERE contact_id = %(c)s ORDER BY tag", c
            )
        ],
        attributes={
            r["key"]: r["value"]
            for r in store.query(
                projection, "SELECT key, value FROM {crm_attributes} WHERE contact_id = %(c)s", c
            )
        },
    )
