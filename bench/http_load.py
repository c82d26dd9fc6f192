"""A load generator for the send path, run as its own process so that its CPU is not the
measured process's: N ``POST /v1/messages`` over C keep-alive connections, each to its
own consumer number. Prints one JSON document: the message ids accepted, the statuses that
were not, and every request's latency in seconds.

    python -m bench.http_load URL KEY COUNT CONCURRENCY
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx

BODY = "Votre colis arrive demain entre 9h et 12h. Repondez STOP pour ne plus recevoir."


async def main(url: str, key: str, count: int, concurrency: int) -> dict[str, object]:
    accepted: list[str] = []
    refused: dict[str, int] = {}
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, limits=limits, headers=headers, timeout=60) as http:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                response = await http.post(
                    "/v1/messages", json={"to": f"+3367{i:07d}", "body": BODY}
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code == 202:
                    accepted.append(response.json()["message_id"])
                else:
                    status = str(response.status_code)
                    refused[status] = refused.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return {"accepted": accepted, "refused": refused, "latencies": latencies, "seconds": seconds}


if __name__ == "__main__":
    url, key, count, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(asyncio.run(main(url, key, count, concurrency))))
