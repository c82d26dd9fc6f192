"""A brand's own system checks Chainon's events against the AsyncAPI document, as any
integrator can: the schemas come from the exported document, not from Chainon's code.

chainon schemas export -o asyncapi.json
python examples/validate_events.py BOOTSTRAP asyncapi.json [HOW_MANY]
"""

import asyncio
import json
import os
import sys

from aiokafka import AIOKafkaConsumer
from jsonschema import Draft7Validator

TOPIC = os.environ.get("CHAINON_TOPIC_PREFIX", "chainon") + ".events.v1"


def validators(document: dict) -> dict[str, Draft7Validator]:
    """One validator per event type: the messages of the channel whose address is TOPIC."""
    channel = next(c for c in document["channels"].values() if c["address"] == TOPIC)
    found = {}
    for ref in channel["messages"].values():
        message = document["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
        payload = message["payload"]
        # AsyncAPI schemas are JSON Schema draft 7; their $refs point into the document.
        schema = {**payload, "components": document["components"]}
        found[payload["properties"]["type"]["const"]] = Draft7Validator(schema)
    return found


def problems(checks: dict[str, Draft7Validator], event: dict) -> list[str]:
    check = checks.get(event.get("type"))
    if check is None:
        return ["not in the document"]
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in check.iter_errors(event)]


async def main(bootstrap: str, checks: dict[str, Draft7Validator], how_many: int) -> int:
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id="my-contract-check",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    invalid = seen = 0
    try:
        async for record in consumer:
            event = json.loads(record.value)
            found = problems(checks, event)
            print(event.get("position"), event.get("type"), "; ".join(found) or "valid", flush=True)
            invalid += bool(found)
            await consumer.commit()
            seen += 1
            if seen >= how_many:
                break
    finally:
        await consumer.stop()
    return 1 if invalid else 0


if __name__ == "__main__":
    with open(sys.argv[2]) as file:
        document = json.load(file)
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 10**9
    sys.exit(asyncio.run(main(sys.argv[1], validators(document), count)))
