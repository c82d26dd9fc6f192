"""A doorbell between the processes that share one embedded log: a Unix datagram socket per
listening bus, in a directory beside the log's file.

Without it, a consumer learns of records another process appended only when its poll's
timer runs out (half a second): fine for a burst, where batches are large, but at a steady
rate every message a channel adapter or a command of another process publishes would wait
for that timer. A publisher sends one byte to every socket in the directory after each
write; a listener that already has a byte pending is rung already, so a full buffer is
ignored. A socket nobody holds any more (its process was killed) is removed by the first
publisher that finds it refused.

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

    def ring(self) -> None:
        """One byte to every listener but this bus itself; never blocks."""
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return  # nobody listens yet
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        for entry in entries:
            if self._own is not None and entry.path == str(self._own):
                continue
            try:
                self._sender.sendto(b"!", entry.path)
            except BlockingIOError:
                pass  # its buffer is full: it has been rung and has not looked yet
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)  # its process is gone
            except OSError as exc:  # e.g. a stray file that is not a socket
                log.debug("log_bell.ring_failed", path=entry.path, error=repr(exc))

    def listen(self, loop: asyncio.AbstractEventLoop, rung: Callable[[], None]) -> bool:
        """Calls ``rung`` on ``loop`` each time another process rings; False (and the
        consumers keep their timer) where the directory's path is too long."""
        if self._listener is not None:
            return True
        self.directory.mkdir(parents=True, exist_ok=True)
        own = self.directory / f"{os.getpid()}.{next(_names)}"
        if len(os.fsencode(own)) > MAX_PATH:
            log.info("log_bell.path_too_long", path=str(own), falls_back_to="polling")
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(own)  # a killed process of the same PID left it
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.setblocking(False)
        listener.bind(str(own))

        def readable() -> None:
            with contextlib.suppress(BlockingIOError):
                while listener.recv(64):
                    pass
            rung()

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
