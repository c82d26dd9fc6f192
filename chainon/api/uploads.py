"""A CSV upload spooled to a temporary file as it arrives, then read a row at a time.

An upload may be 100,000 rows: it never sits in memory whole, neither as bytes nor as text.
Bytes that are not UTF-8 become U+FFFD, so the row holding them is refused by its line
rather than the whole file."""

from __future__ import annotations

import codecs
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO

from fastapi import Request


@asynccontextmanager
async def spooled_text(request: Request) -> AsyncIterator[IO[str]]:
    """The request's body as text, from its start; the file is gone after the block."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        async for chunk in request.stream():  # its size is held to CHAINON_MAX_UPLOAD_BYTES
            spool.write(decoder.decode(chunk))
        spool.write(decoder.decode(b"", final=True))
        spool.seek(0)
        yield spool
