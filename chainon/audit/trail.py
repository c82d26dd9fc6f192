"""What an audit entry holds, how it is recorded, and how entries are found again."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from chainon.settings import Settings, StoreKind

TABLE = "chainon_audit"
REFUSAL = "the audit log is append-only"


class Action(StrEnum):
    CONVERSATION_READ = "conversation.read"
    CONTACT_READ = "contact.read"
    CONSENT_READ = "consent.read"
    MESSAGE_SENT = "message.sent"
    REPLY_SENT = "reply.sent"
    CONTACTS_EXPORTED = "contacts.exported"
    CONTACT_ERASED = "contact.erased"
    CONSENT_CHANGED = "consent.changed"
    CONSENT_IMPORTED = "consent.imported"
    KEY_ISSUED = "key.issued"
    KEY_REVOKED = "key.revoked"


@dataclass(frozen=True)
class NewEntry:
    at: datetime
    brand_id: UUID
    actor: str
    action: str
    subject: str
    request_id: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry(NewEntry):
    id: int = 0


@dataclass(frozen=True)
class AuditFilter:
    """A brand's entries, newest first; ``since`` and ``until`` both included."""

    brand_id: UUID
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None  # the id the previous page ended on
    limit: int = 50


class AuditTable(Protocol):
    def append(self, entry: NewEntry) -> None: ...

    def entries(self, where: AuditFilter) -> list[AuditEntry]: ...

    def close(self) -> None: ...


class AuditTrail:
    """Entries go in, one insert each, and never change again.

    Its calls block on the store: the API runs them on the runtime's thread pool.
    """

    def __init__(self, table: AuditTable, clock: Callable[[], datetime]) -> None:
        self.table = table
        self.clock = clock

    def record(
        self,
        brand_id: UUID,
        actor: str,
        action: Action,
        subject: object,
        request_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        entry = NewEntry(
            self.clock(), brand_id, actor, action.value, str(subject), request_id, detail or {}
        )
        self.table.append(entry)

    def entries(self, where: AuditFilter) -> list[AuditEntry]:
        return self.table.entries(where)

    def close(self) -> None:
        self.table.close()


def record_erasure(
    trail: AuditTrail,
    brand_id: UUID,
    contact_id: UUID,
    actor: str,
    request_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """The entry an erasure leaves: the contact's id only (its data is what went away)."""
    trail.record(brand_id, actor, Action.CONTACT_ERASED, contact_id, request_id, detail)


def cli_actor() -> str:
    """``cli:<os user>``: who ran a command on the host, as the operating system knows them."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def audit_trail_of(
    settings: Settings,
    clock: Callable[[], datetime],
    sqlite_writes: Callable[[], AbstractContextManager[Any]] | None = None,
) -> AuditTrail:
    """In the store's own database: a table of the SQLite file, or of the PostgreSQL schema.
    ``sqlite_writes``: the store writer's own transactions, which the entries then share."""
    table: AuditTable
    if settings.store is StoreKind.SQLITE:
        from chainon.audit.sqlite_table import SQLiteAuditTable

        table = SQLiteAuditTable(settings.sqlite_path, sqlite_writes)
    else:
        from chainon.audit.postgres_table import PostgresAuditTable

        table = PostgresAuditTable(settings.postgres_dsn, settings.postgres_schema or "public")
    return AuditTrail(table, clock)
