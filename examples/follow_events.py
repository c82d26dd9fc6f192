"""A brand's own system follows Chainon's events over Kafka, idempotently.

python examples/follow_events.py BOOTSTRAP [HOW_MANY]
"""

import asyncio
import json
import os
import sys

from aiokafka import AIOKafkaConsumer

TOPIC = os.environ.get("CHAINON_TOPIC_PREFIX", "chainon") + ".events.v1"


async def main(bootstrap: str, how_many: int) -> None:
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id="my-crm-sync",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    applied: dict[str, int] = {}  # aggregate id → last version applied (keep it in your DB)
    seen = 0
    try:
        async for record in consumer:
            event = json.loads(record.value)
            if applied.get(event["aggregate_id"], 0) < event["aggregate_version"]:
                print(event["position"], event["type"], event["aggregate_id"], flush=True)
                applied[event["aggregate_id"]] = event["aggregate_version"]
            await consumer.commit()  # after the work is done: a crash replays, never skips
            seen += 1
            if seen >= how_many:
                break
    finally:
        await consumer.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10**9))
