"""Group commit: the commands that arrive while the store is busy go in together.

Every caller (an API request, a record of the core worker) awaits its own outcome, as if
it had the store to itself; meanwhile the commands that queued up behind a transaction
are decided as one unit of work and saved in the next one. Under load this turns a
transaction per command into a transaction per batch; when idle it adds no wait at all.
One batch is in the store at a time, so a process never competes with itself for the
write lock (SQLite has one writer; PostgreSQL would only serialise on the same rows).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from chainon.domain import commands as cmd
from chainon.messagebus import IdempotencyClaim

Batch = Sequence[tuple[cmd.Command, IdempotencyClaim | None]]
Decide = Callable[[Batch], list[cmd.Outcome | Exception]]
Call = Callable[..., Awaitable[Any]]


class CommandBatcher:
    def __init__(self, decide: Decide, call: Call, *, max_batch: int = 500) -> None:
        self.decide = decide
        self.call = call  # runs the blocking decision on a thread
        self.max_batch = max_batch
        self._queue: list[
            tuple[cmd.Command, IdempotencyClaim | None, asyncio.Future[cmd.Outcome]]
        ] = []
        self._draining: asyncio.Task[None] | None = None

    async def handle(
        self, command: cmd.Command, idempotency: IdempotencyClaim | None = None
    ) -> cmd.Outcome:
        future: asyncio.Future[cmd.Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((command, idempotency, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain(), name="command-batcher")
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            live = [(c, i, f) for c, i, f in batch if not f.cancelled()]
            try:
                results = await self.call(self.decide, [(c, i) for c, i, _ in live])
            except BaseException as exc:  # the store is down: every caller hears it
                for _, _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (_, _, future), result in zip(live, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
