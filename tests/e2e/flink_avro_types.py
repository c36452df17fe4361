"""Confluent's AvroSerializer / AvroDeserializer (PyPI confluent-kafka) on tables sqlgate
created.

Run by tests/flink_formats.rs with SQLGATE_BOOTSTRAP, SCHEMA_REGISTRY_URL and SQLGATE_TOPIC,
in one of two modes (argv[1]):

  produce   appends one record (id 3) of the table with TIMESTAMP(3), DATE, DECIMAL, BYTES
            and ARRAY columns, with the subject's latest version, as registered by CREATE
            TABLE (no schema of its own is registered);
  consume   reads every record from the beginning (writer schema looked up by the id in each
            record) and prints them as one JSON line, temporal values as ISO-8601 text (an
            instant with its UTC offset), decimals as text and bytes as hex.

Exits non-zero on any failure.
"""

import datetime
import decimal
import json
import os
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

REGISTRY = SchemaRegistryClient({"url": os.environ["SCHEMA_REGISTRY_URL"], "timeout": 10})
TOPIC = os.environ["SQLGATE_TOPIC"]
BOOTSTRAP = os.environ["SQLGATE_BOOTSTRAP"]
CONF = {"subject.name.strategy.type": "TOPIC"}


def plain(v):
    """JSON-able form of what the deserializer returns."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    return v


def produce():
    ser = AvroSerializer(
        REGISTRY, None, conf={"auto.register.schemas": False, "use.latest.version": True, **CONF}
    )
    record = {
        "id": 3,
        "ts": datetime.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=datetime.timezone.utc),
        "d": datetime.date(2024, 2, 29),
        "m": decimal.Decimal("12.34"),
        "b": b"\x01\x02\xff",
        "a": [1, 2],
    }
    p = Producer({"bootstrap.servers": BOOTSTRAP})
    p.produce(TOPIC, value=ser(record, SerializationContext(TOPIC, MessageField.VALUE)))
    if p.flush(30) != 0:
        raise RuntimeError("records left unsent")
    print(json.dumps("ok"))


def consume():
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": f"flink-avro-types-{time.time()}",
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
        out.append(plain(decode(m.value(), SerializationContext(TOPIC, MessageField.VALUE))))
    consumer.close()
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    {"produce": produce, "consume": consume}[sys.argv[1]]()
