"""Reads every record of one topic with Confluent's AvroDeserializer (writer schema looked up
by the id in each record) and prints the values as one JSON line.

Run by tests/flink_formats.rs with SQLGATE_BOOTSTRAP, SCHEMA_REGISTRY_URL and SQLGATE_TOPIC.
Exits non-zero on any failure.
"""

import json
import os
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

REGISTRY = SchemaRegistryClient({"url": os.environ["SCHEMA_REGISTRY_URL"], "timeout": 10})
TOPIC = os.environ["SQLGATE_TOPIC"]


def main():
    consumer = Consumer(
        {
            "bootstrap.servers": os.environ["SQLGATE_BOOTSTRAP"],
            "group.id": f"flink-avro-{time.time()}",
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
        }
    )
    meta = consumer.list_topics(TOPIC, timeout=10)
    parts = list(meta.topics[TOPIC].partitions)
    consumer.assign([TopicPartition(TOPIC, p, 0) for p in parts])
    decode = AvroDeserializer(REGISTRY)
    out, eof = [], set()
    deadline = time.time() + 30
    while len(eof) < len(parts) and time.time() < deadline:
        m = consumer.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                eof.add(m.partition())
                continue
            raise RuntimeError(m.error())
        out.append(decode(m.value(), SerializationContext(TOPIC, MessageField.VALUE)))
    consumer.close()
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
