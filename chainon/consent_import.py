"""Opt-ins and opt-outs a brand collected elsewhere (its shop, its old platform, paper
forms), imported from a CSV: each row becomes the same consent command the API records,
with source ``import``, the file and the row as its evidence.

The file is read row by row and decided five hundred rows at a time, so a big one is never
held in memory. A bad row is reported by its line with the reason and never stops the
good ones. Each row's evidence carries a digest of what it says (address, purpose, status,
channel, time, wording): importing the same file again records nothing new, and an old
row never undoes a change the contact made since (a STOP after the import stands).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO
from uuid import UUID

from chainon import csv_rows
from chainon.csv_rows import Rejected
from chainon.domain import commands as cmd
from chainon.domain.addresses import Address, parse_address
from chainon.domain.channels import Channel
from chainon.domain.consent import MAX_EVIDENCE_TEXT, EvidenceSource, Purpose
from chainon.domain.errors import DomainError, InvalidInput
from chainon.messagebus import IdempotencyClaim

REQUIRED = ("address", "purpose")
OPTIONAL = ("status", "channel", "collected_at", "text", "country")
STATUSES = ("granted", "revoked")
CHUNK = 500
MAX_REPORTED = 1000  # rejected lines listed in the answer; every one is counted

Decide = Callable[
    [Sequence[tuple[cmd.Command, IdempotencyClaim | None]]], list[cmd.Outcome | Exception]
]


@dataclass
class ImportReport:
    granted: int = 0
    revoked: int = 0
    unchanged: int = 0  # already in force, or the same row imported before
    rejected: int = 0
    errors: list[Rejected] = field(default_factory=list)

    def reject(self, bad: Rejected) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED:
            self.errors.append(bad)


def import_consent(
    decide: Decide,
    brand_id: UUID,
    source: IO[str],
    *,
    origin: str,
    actor: str,
    region: str,
) -> ImportReport:
    """Records each good row of ``source`` (``origin``: the file's name or the request)
    through ``decide`` (the core's ``handle_many``), ``CHUNK`` rows at a time."""
    report = ImportReport()
    pending: list[tuple[int, cmd.ChangeConsent]] = []
    for item in _rows(source, brand_id, origin=origin, actor=actor, region=region):
        if isinstance(item, Rejected):
            report.reject(item)
            continue
        pending.append(item)
        if len(pending) >= CHUNK:
            _decide(decide, pending, report)
            pending = []
    _decide(decide, pending, report)
    report.errors.sort(key=lambda bad: bad.line)
    return report


def _decide(
    decide: Decide, pending: list[tuple[int, cmd.ChangeConsent]], report: ImportReport
) -> None:
    if not pending:
        return
    results = decide([(command, None) for _, command in pending])
    for (line, command), result in zip(pending, results, strict=True):
        if isinstance(result, DomainError):
            where = f"{result.field}: " if result.field else ""
            report.reject(Rejected(line, f"{where}{result.detail}"))
        elif isinstance(result, Exception):
            raise result  # the store, not the row: the import stops and says so
        elif not result.changed:
            report.unchanged += 1
        elif isinstance(command, cmd.GrantConsent):
            report.granted += 1
        else:
            report.revoked += 1


def _rows(
    source: IO[str], brand_id: UUID, *, origin: str, actor: str, region: str
) -> Iterator[Rejected | tuple[int, cmd.ChangeConsent]]:
    """Each data row, checked: (line, command) or why it was left out. Lines are the
    file's, the header being line 1."""
    reader = csv.reader(source)
    header = _header(reader)
    for item in csv_rows.rows(reader, header):
        if isinstance(item, Rejected):
            yield item
            continue
        line, row = item
        cells = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
        try:
            evidence = f"{origin}, line {line}: {_raw(row)}"
            command = _command(cells, brand_id, region, evidence=evidence)
        except InvalidInput as exc:
            yield Rejected(line, f"{exc.field}: {exc.detail}" if exc.field else exc.detail)
            continue
        yield line, command.model_copy(update={"actor": actor})


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InvalidInput(
            "the CSV is empty: a header row naming `address` and `purpose` is needed", field="csv"
        ) from None
    except csv.Error as exc:
        raise InvalidInput(f"the header row is not CSV: {exc}", field="csv") from None
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InvalidInput(f"the header row names no `{'`, `'.join(missing)}`", field="csv")
    unknown = [name for name in header if name not in (*REQUIRED, *OPTIONAL)]
    if unknown or len(set(header)) != len(header):
        raise InvalidInput(
            f"the header row may name each of {', '.join((*REQUIRED, *OPTIONAL))} once"
            + (f"; not {', '.join(repr(u) for u in unknown)}" if unknown else ""),
            field="csv",
        )
    return header


def _command(
    cells: dict[str, str], brand_id: UUID, region: str, *, evidence: str
) -> cmd.ChangeConsent:
    """The consent command one row asks for; InvalidInput naming the column otherwise."""
    address = _address(cells, region)
    purpose = cells["purpose"].lower()
    if purpose not in (Purpose.MARKETING, Purpose.SERVICE):
        raise InvalidInput("must be marketing or service", field="purpose")
    status = cells.get("status", "").lower() or "granted"
    if status not in STATUSES:
        raise InvalidInput("must be granted or revoked", field="status")
    channel = cells.get("channel", "").lower()
    if channel and channel not in {c.value for c in Channel}:
        raise InvalidInput(f"must be one of {', '.join(c.value for c in Channel)}", field="channel")
    collected_at = _moment(cells.get("collected_at", ""))
    wording = cells.get("text", "")
    if len(evidence) > MAX_EVIDENCE_TEXT:
        raise InvalidInput(f"the row is longer than {MAX_EVIDENCE_TEXT} characters of evidence")
    said = [address.value, purpose, status, channel, collected_at, wording]
    digest = hashlib.blake2b(json.dumps(said, default=str).encode(), digest_size=16).hexdigest()
    kind = cmd.GrantConsent if status == "granted" else cmd.RevokeConsent
    return kind(
        brand_id=brand_id,
        address=address.value,
        purpose=Purpose(purpose),
        channel=Channel(channel) if channel else None,
        source=EvidenceSource.IMPORT,
        text=evidence,
        collected_at=collected_at,
        reference=f"import:{digest}",
    )


def _address(cells: dict[str, str], region: str) -> Address:
    """A national number is read in the row's ``country``, else the deployment's region."""
    country = cells.get("country", "").upper()
    if country and (len(country) != 2 or not country.isalpha()):
        raise InvalidInput("must be a two-letter country code (FR, US)", field="country")
    return parse_address(cells["address"], default_region=country or region, field="address")


def _moment(text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("must be an ISO 8601 time", field="collected_at") from None
    if moment.tzinfo is None:
        raise InvalidInput("needs an offset (2026-03-01T10:00:00+01:00)", field="collected_at")
    return moment


def _raw(row: list[str]) -> str:
    """The row as the file had it (CSV-quoted again): the raw evidence."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()
