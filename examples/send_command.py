"""A brand's own system asks Chainon to send a message, over Kafka.

python examples/send_command.py BOOTSTRAP BRAND_ID +33612345678
"""

import asyncio
import json
import os
import sys
import uuid

from aiokafka import AIOKafkaProducer

TOPIC = os.environ.get("CHAINON_TOPIC_PREFIX", "chainon") + ".commands.v1"


async def main(bootstrap: str, brand_id: str, to: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        command = {
            "type": "SendMessage",
            "schema_version": 1,
            "command_id": str(uuid.uuid4()),  # a redelivery with this id changes nothing
            "brand_id": brand_id,
            "to": to,
            "body": "Votre commande est prête !",
        }
        await producer.send_and_wait(TOPIC, json.dumps(command).encode(), key=to.encode())
        print(f"sent command {command['command_id']}")
    finally:
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
