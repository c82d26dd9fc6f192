"""An online backup of the embedded default's data directory, taken while Chainon serves.

The directory holds four SQLite files that follow one another: the read models
(``views.sqlite3``) and the webhooks' outbox (``webhooks.sqlite3``) follow the store, the
store (``chainon.sqlite3``) consumes the inbound and command topics of the log
(``bus.sqlite3``), and the relay publishes the store's events to that log. Each file is
copied with SQLite's backup API (a consistent snapshot of that file), in the order that
makes the copies fit together:

1. the read models and the outbox first: older than the store, they catch up at the next
   start (a copy newer than the store would hold facts the store does not);
2. the log before the store: a record the core consumed after the log's copy is taken
   again at restart, and deciding twice is harmless (inbound messages and commands are
   idempotent), whereas a log newer than the store would hold records the store never saw
   as consumed and lose them;
3. the store last; then its relay position is moved back to the last event the log's copy
   holds, so the restored relay publishes what the copy lacks, once, and nothing twice.

The copy is itself a data directory: start Chainon on it, or ``chainon restore`` it into an
empty one. PostgreSQL and Kafka have their own tools (``pg_dump``; see deploy/README.md).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from chainon.errors import OperatorError
from chainon.settings import BusKind, Settings, StoreKind
from chainon.topics import Topics

FOLLOWERS = ("views.sqlite3", "webhooks.sqlite3")
LOG = "bus.sqlite3"
STORE = "chainon.sqlite3"
KEPT_AS_FILES = ("sandbox", "smpp", "rcs", "demo-api-key")  # small state, copied as is
RELAY = "relay"


class BackupRefused(OperatorError):
    """No backup taken: the mode has its own tools, or the target is in use."""


@dataclass
class Backup:
    target: Path
    files: list[str] = field(default_factory=list)
    relay_position: int | None = None  # where the restored relay resumes


def backup(settings: Settings, target: Path) -> Backup:
    if settings.store is not StoreKind.SQLITE or settings.bus is not BusKind.EMBEDDED:
        raise BackupRefused(
            "chainon backup copies the embedded default (SQLite, embedded log); back up "
            "PostgreSQL with pg_dump and Kafka with its replication (deploy/README.md)"
        )
    source = settings.data_dir
    if not (source / STORE).is_file():
        raise BackupRefused(f"no Chainon store at {source / STORE}")
    _claim(target)
    done = Backup(target)
    for name in (*FOLLOWERS, LOG, STORE):
        if (source / name).is_file():
            _copy_database(source / name, target / name)
            done.files.append(name)
    for name in KEPT_AS_FILES:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, target / name)
            done.files.append(name + "/")
        elif path.is_file():
            shutil.copy2(path, target / name)
            done.files.append(name)
    if (target / LOG).is_file():
        done.relay_position = _align_relay(target, Topics(settings.topic_prefix).events)
    return done


def restore(backup_dir: Path, data_dir: Path) -> list[str]:
    """Copies a backup into an empty (or new) data directory; returns what it copied."""
    if not (backup_dir / STORE).is_file():
        raise BackupRefused(f"{backup_dir} holds no Chainon backup (no {STORE})")
    _claim(data_dir)
    copied = []
    for path in sorted(backup_dir.iterdir()):
        if path.is_dir():
            shutil.copytree(path, data_dir / path.name)
        else:
            shutil.copy2(path, data_dir / path.name)
        copied.append(path.name)
    return copied


def _claim(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise BackupRefused(f"{directory} is not empty: choose a new directory")
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)  # message bodies and phone numbers: its owner's only


def _copy_database(source: Path, target: Path) -> None:
    """One consistent snapshot of ``source``, whatever writes it meanwhile (one step of
    SQLite's backup API reads the whole file under one read transaction)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=-1)
    finally:
        dst.close()
        src.close()
    os.chmod(target, 0o600)


def _align_relay(target: Path, events_topic: str) -> int | None:
    """Moves the copied store's relay position back to the last event the copied log holds.

    A relay batch is one transaction of the log, so every event at or below that position
    is in the copy; after it, the restored relay publishes what the copy lacks."""
    log = sqlite3.connect(target / LOG)
    try:
        row = log.execute(
            "SELECT value FROM bus_records WHERE topic = ? ORDER BY offset DESC LIMIT 1",
            (events_topic,),
        ).fetchone()
    finally:
        log.close()
    position = int(json.loads(row[0])["position"]) if row is not None else 0
    store = sqlite3.connect(target / STORE)
    try:
        with store:
            store.execute(
                "DELETE FROM tracking WHERE application_name = ? AND notification_id > ?",
                (RELAY, position),
            )
            if position:
                store.execute(
                    "INSERT OR IGNORE INTO tracking (application_name, notification_id) "
                    "VALUES (?, ?)",
                    (RELAY, position),
                )
    finally:
        store.close()
    return position
