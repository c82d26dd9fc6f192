"""A doorbell between the processes that share one embedded log: a Unix datagram socket per
listening bus, in a directory beside the log's file.

Without it, a consumer learns of records another process appended only when its poll's
timer runs out (half a second): fine for a burst, where batches are large, but at a steady
rate every message a channel adapter or a command of another process publishes would wait
for that timer. A publisher sends the names of the topics it wrote to every socket in the
directory after each write, so that only their consumers look. A listener whose buffer is
full (it has not looked for a while) is not waited for: a ring it misses costs its
consumers their poll's timer, never a record. A socket nobody holds any more (its
process was killed) is removed by the first publisher that finds it refused.

A datagram socket's path is limited to 107 bytes: a log whose directory is deeper than that
gets no bell, and its consumers fall back to the poll's timer (logged once).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
from collections.abc import Callable
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

MAX_PATH = 107  # sun_path is 108 bytes with its terminating NUL
RING_BYTES = 4096  # a ring names the topics written: a few dozen bytes
_names = itertools.count()


def bells_of(log_file: Path) -> Path:
    return log_file.with_name(log_file.name + ".bells")


class Bell:
    """The sockets of one log's listeners: ``ring`` them all; ``listen`` to be rung."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sender: socket.socket | None = None
        self._listener: socket.socket | None = None
        self._own: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def usable(self) -> bool:
        """False where the directory is too deep for a socket's path: nobody is rung (nor
        where it cannot be made, but then neither can the log's file beside it)."""
        return len(os.fsencode(self.directory / f"{os.getpid()}.{10**6}")) <= MAX_PATH

    def ring(self, said: bytes = b"") -> None:
        """``said`` (the topics written, say) to every listener but this bus itself; never
        blocks."""
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return  # nobody listens yet (or can: see ``listen``)
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        for entry in entries:
            if self._own is not None and entry.path == str(self._own):
                continue
            try:
                self._sender.sendto(said, entry.path)
            except BlockingIOError:
                pass  # its buffer is full: its consumers fall back on their timer
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)  # its process is gone
            except OSError as exc:  # e.g. a stray file that is not a socket
                log.debug("log_bell.ring_failed", path=entry.path, error=repr(exc))

    def listen(self, loop: asyncio.AbstractEventLoop, rung: Callable[[list[bytes]], None]) -> bool:
        """Calls ``rung`` on ``loop`` with what the rings pending said, together; False (and
        the consumers keep their timer) where the directory's path is too long."""
        if self._listener is not None:
            return True
        own = self.directory / f"{os.getpid()}.{next(_names)}"
        if len(os.fsencode(own)) > MAX_PATH:
            log.info("log_bell.path_too_long", path=str(own), falls_back_to="polling")
            return False
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.setblocking(False)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(own)  # a killed process of the same PID left it
            listener.bind(str(own))
        except OSError as exc:  # a directory it may not write in: the timer will do
            listener.close()
            log.warning("log_bell.listen_failed", path=str(own), error=repr(exc))
            return False

        def readable() -> None:
            said = []
            while True:
                try:
                    said.append(listener.recv(RING_BYTES))
                except BlockingIOError:
                    break
            if said:
                rung(said)

        loop.add_reader(listener.fileno(), readable)
        self._listener, self._own, self._loop = listener, own, loop
        return True

    def close(self) -> None:
        if self._listener is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        if self._own is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._own)
            self._own = None
        if self._sender is not None:
            self._sender.close()
            self._sender = None
