"""The audit log: who did what with personal data, kept append-only beside the store.

A reading agent, a key that exports contacts, an erasure, a consent changed by hand: each
leaves one entry (when, which brand, which actor, what, on what, under which request id).
The entries are no events of the brand's history (a read changes nothing); they live in a
table of the store's own database that refuses every UPDATE and DELETE, so that nobody with
the application's rights can rewrite what was done.
"""

from chainon.audit.trail import (
    Action,
    AuditEntry,
    AuditFilter,
    AuditTrail,
    audit_trail_of,
    cli_actor,
    record_erasure,
)

__all__ = [
    "Action",
    "AuditEntry",
    "AuditFilter",
    "AuditTrail",
    "audit_trail_of",
    "cli_actor",
    "record_erasure",
]
