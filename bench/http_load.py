"""A load generator for the send path, run as its own process so that its CPU is not the
measured process's: N ``POST /v1/messages`` over C keep-alive connections, each to its
own consumer number (with BATCH > 1: ``POST /v1/messages/batch`` of BATCH sends each).
Writes one JSON document to OUTPUT: the message ids accepted, the statuses that were not,
and every request's latency in seconds.

    python -m bench.http_load URL KEY COUNT CONCURRENCY OUTPUT [BATCH]

HTTP/1.1 is spoken directly on asyncio streams: httpx's connection pool took most of a
core for a hundred requests a second here, on a 2-core machine where the measured server
needs the other one. The requests are plain (a JSON body with Content-Length, keep-alive)
and every response is read whole, so the server does the same work as for any client.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.traffic import spread_number

BODY = "Votre colis arrive demain entre 9h et 12h. Repondez STOP pour ne plus recevoir."


class Connection:
    def __init__(self, host: str, port: int, key: str, path: str = "/v1/messages") -> None:
        self.host, self.port = host, port
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        )
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        body = json.dumps(payload).encode()
        self.writer.write(f"{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length, closing = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                closing = True
        answer = json.loads(await self.reader.readexactly(length)) if length else {}
        if closing:
            await self.close()
        return status, answer

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()
        self.reader = self.writer = None


async def main(
    url: str, key: str, count: int, concurrency: int, batch: int = 1
) -> dict[str, object]:
    accepted: list[str] = []
    refused: dict[str, int] = {}
    latencies: list[float] = []
    queue: asyncio.Queue[range] = asyncio.Queue()
    for start in range(0, count, batch):
        queue.put_nowait(range(start, min(start + batch, count)))
    where = urlsplit(url)
    host, port = where.hostname or "127.0.0.1", where.port or 80
    path = "/v1/messages/batch" if batch > 1 else "/v1/messages"

    def refuse(status: object) -> None:
        refused[str(status)] = refused.get(str(status), 0) + 1

    def take(result: dict[str, Any]) -> None:
        # A send answered "blocked" is never delivered: counted here, not waited for.
        if result.get("status") == "blocked":
            refuse(f"blocked: {result.get('reason')}")
        else:
            accepted.append(str(result["message_id"]))

    async def worker() -> None:
        connection = Connection(host, port, key, path)
        try:
            while not queue.empty():
                numbers = queue.get_nowait()
                sends = [{"to": spread_number(i), "body": BODY} for i in numbers]
                started = time.perf_counter()
                if batch > 1:
                    status, answer = await connection.post({"messages": sends})
                else:
                    status, answer = await connection.post(sends[0])
                latencies.append(time.perf_counter() - started)
                if batch > 1 and status == 200:
                    for item in answer["results"]:
                        if item["ok"]:
                            take(item["result"])
                        else:
                            refuse(item["problem"]["status"])
                elif batch == 1 and status == 202:
                    take(answer)
                else:
                    refuse(status)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return {"accepted": accepted, "refused": refused, "latencies": latencies, "seconds": seconds}


if __name__ == "__main__":
    url, key, count, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    batch = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    result = asyncio.run(main(url, key, count, concurrency, batch))
    Path(sys.argv[5]).write_text(json.dumps(result))
