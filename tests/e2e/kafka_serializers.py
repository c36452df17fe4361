"""Confluent's own serializers (PyPI confluent-kafka: AvroSerializer, JSONSerializer,
AvroDeserializer, JSONDeserializer, SchemaRegistryClient) against the topics and subjects the
gateway reads and writes.

Run by tests/kafka_interop.rs with SQLGATE_BOOTSTRAP and SCHEMA_REGISTRY_URL, in one of two
modes (argv[1]):

  produce   creates topics py_avro and py_json and produces records to them with schemas of
            its own (auto-registered as <topic>-key / <topic>-value), and appends records to
            the gateway's tables gw_avro (with an evolved schema: a new version of its
            subject) and gw_json (with the subject's latest version, as registered by CREATE
            TABLE); prints what it wrote as one JSON line.
  consume   reads every record of gw_avro and gw_json from the beginning with the
            deserializers (writer schemas looked up by the id in each record) and prints them
            as one JSON line.

Exits non-zero on any failure.
"""

import base64
import datetime
import decimal
import json
import os
import sys

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

BOOTSTRAP = os.environ["SQLGATE_BOOTSTRAP"]
# Every registry call is bounded (the client waits forever by default; a timeout is retried
# up to max.retries times).
REGISTRY = SchemaRegistryClient({"url": os.environ["SCHEMA_REGISTRY_URL"], "timeout": 10})
# Subjects are <topic>-key / <topic>-value (TopicNameStrategy), as the gateway names them.
# The client's default, ASSOCIATED, first asks for Confluent Cloud's associations API, which
# Apicurio does not have (404, then a fallback to the same names).
TOPIC = {"subject.name.strategy.type": "TOPIC"}

CLICK_KEY = json.dumps({
    "type": "record", "name": "ClickKey", "namespace": "py",
    "fields": [{"name": "session", "type": "string"}],
})
CLICK = json.dumps({
    "type": "record", "name": "Click", "namespace": "py",
    "fields": [
        {"name": "user_id", "type": "long"},
        {"name": "url", "type": "string"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                    "precision": 10, "scale": 2}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "ok", "type": "boolean"},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
})
ORDER = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Order",
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "item": {"type": "string"},
        "price": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["id", "item"],
})


def plain(v):
    """JSON-able form of what the deserializers return."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, datetime.datetime):
        return v.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds")
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    return v


def create_topics(names):
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    futures = admin.create_topics([NewTopic(n, num_partitions=2, replication_factor=1)
                                   for n in names], request_timeout=30)
    for f in futures.values():
        f.result(timeout=60)


def produce(producer, topic, records, key_ser, value_ser):
    for key, value in records:
        producer.produce(
            topic,
            key=key_ser(key, SerializationContext(topic, MessageField.KEY)),
            value=value_ser(value, SerializationContext(topic, MessageField.VALUE)),
        )
    left = producer.flush(60)
    if left:
        raise RuntimeError(f"{left} records to {topic} were not delivered")


def produce_all():
    create_topics(["py_avro", "py_json"])
    p = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
    utc = datetime.timezone.utc
    clicks = [
        ({"session": f"s{i}"},
         {"user_id": 100 + i, "url": f"/p/{i}", "amount": decimal.Decimal(f"{i}.25"),
          "at": datetime.datetime(2026, 11, 24, 10, 0, i, 123000, tzinfo=utc),
          "ok": i % 2 == 0, "note": None if i == 0 else f"n{i}"})
        for i in range(3)
    ]
    produce(p, "py_avro", clicks,
            AvroSerializer(REGISTRY, CLICK_KEY, conf=TOPIC),
            AvroSerializer(REGISTRY, CLICK, conf=TOPIC))
    orders = [
        ({"id": i}, {"id": i, "item": f"item-{i}", "price": i * 1.5, "tags": ["a"] * i})
        for i in range(1, 4)
    ]
    produce(p, "py_json", orders,
            JSONSerializer(json.dumps({"type": "object", "properties": {
                "id": {"type": "integer"}}, "required": ["id"]}), REGISTRY, conf=TOPIC),
            JSONSerializer(ORDER, REGISTRY, conf=TOPIC))

    # The gateway's Avro table: this producer brings a new version of the value schema (one
    # more nullable field with a default, BACKWARD compatible), auto-registered.
    latest = REGISTRY.get_latest_version("gw_avro-value").schema.schema_str
    evolved = json.loads(latest)
    evolved["fields"].append({"name": "origin", "type": ["null", "string"], "default": None})
    key_schema = REGISTRY.get_latest_version("gw_avro-key").schema.schema_str
    rows = [({"id": 10 + i}, {"name": f"py-{i}", "qty": i, "origin": "python"})
            for i in range(2)]
    produce(p, "gw_avro", rows,
            AvroSerializer(REGISTRY, key_schema, conf=TOPIC),
            AvroSerializer(REGISTRY, json.dumps(evolved), conf=TOPIC))

    # The gateway's JSON table: written with the schemas CREATE TABLE registered.
    latest_only = {"auto.register.schemas": False, "use.latest.version": True, **TOPIC}
    rows = [({"id": 20 + i}, {"name": f"py-{i}", "qty": i}) for i in range(2)]
    produce(p, "gw_json", rows,
            JSONSerializer(None, REGISTRY, conf=latest_only),
            JSONSerializer(None, REGISTRY, conf=latest_only))
    print(json.dumps({"produced": ["py_avro", "py_json", "gw_avro", "gw_json"]}))


def consume(topic, key_de, value_de):
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"py-{topic}",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    parts = c.list_topics(topic, timeout=30).topics[topic].partitions
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out, eof = [], set()
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=60)
    while len(eof) < len(parts):
        if datetime.datetime.now() > deadline:
            raise RuntimeError(f"{topic} not read to its end")
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                eof.add(m.partition())
                continue
            raise RuntimeError(m.error())
        out.append({
            "key": plain(key_de(m.key(), SerializationContext(topic, MessageField.KEY))),
            "value": plain(value_de(m.value(), SerializationContext(topic, MessageField.VALUE))),
            "schema_id": int.from_bytes(m.value()[1:5], "big"),
        })
    c.close()
    return out


def consume_all():
    result = {
        "gw_avro": consume("gw_avro", AvroDeserializer(REGISTRY), AvroDeserializer(REGISTRY)),
        "gw_json": consume("gw_json", JSONDeserializer(None, schema_registry_client=REGISTRY),
                           JSONDeserializer(None, schema_registry_client=REGISTRY)),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    {"produce": produce_all, "consume": consume_all}[sys.argv[1]]()
