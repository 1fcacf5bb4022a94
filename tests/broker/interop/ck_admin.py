# confluent-kafka's AdminClient against the broker: create_topics with a
# config, describe_configs, create_partitions, list_topics, delete_topics, and
# the refusals (replication factor 3 on one broker, an existing topic).
# Prints one {"step": ..., ...} line per step.
import confluent_kafka
from confluent_kafka import admin as ckadmin

import interop_common as ic


def result(future, timeout):
    """(None, value) or (KafkaError, None)."""
    try:
        return None, future.result(timeout=timeout)
    except confluent_kafka.KafkaException as e:
        return e.args[0], None


def topic_partitions(client, topic, timeout):
    md = client.list_topics(timeout=timeout)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        return None
    return len(t.partitions)


def main():
    p = ic.parser(__doc__)
    p.add_argument("--topic", required=True)
    args = p.parse_args()
    deadline = ic.Deadline(args.timeout)
    client = ckadmin.AdminClient(ic.ck_config(args))
    topic = args.topic

    futures = client.create_topics(
        [ckadmin.NewTopic(topic, num_partitions=2, replication_factor=1,
                          config={"retention.ms": "3600000"})],
        operation_timeout=10, request_timeout=10)
    err, _ = result(futures[topic], deadline.left())
    ic.check(err is None, "create_topics(%s): %s" % (topic, err))
    ic.emit({"step": "create_topics", "topic": topic})

    resource = ckadmin.ConfigResource(ckadmin.ConfigResource.Type.TOPIC, topic)
    err, entries = result(client.describe_configs([resource])[resource], deadline.left())
    ic.check(err is None, "describe_configs(%s): %s" % (topic, err))
    described = {name: {"value": e.value, "is_default": e.is_default, "source": ckadmin.ConfigSource(e.source).name}
                 for name, e in entries.items()}
    ic.emit({"step": "describe_configs", "configs": described})
    ic.check("retention.ms" in described, "retention.ms not described: %s" % sorted(described))
    ic.check(described["retention.ms"]["value"] == "3600000",
             "retention.ms = %r, expected 3600000" % described["retention.ms"]["value"])
    ic.check(not described["retention.ms"]["is_default"], "retention.ms, set at creation, is "
             "reported as a default")
    ic.check(described["retention.ms"]["source"] == "DYNAMIC_TOPIC_CONFIG",
             "retention.ms source %r, expected DYNAMIC_TOPIC_CONFIG" %
             described["retention.ms"]["source"])
    ic.check("segment.bytes" in described, "segment.bytes not described")
    ic.check(described["segment.bytes"]["is_default"],
             "segment.bytes (never set) is not reported as a default: %s" %
             described["segment.bytes"])

    futures = client.create_partitions([ckadmin.NewPartitions(topic, 4)],
                                       operation_timeout=10, request_timeout=10)
    err, _ = result(futures[topic], deadline.left())
    ic.check(err is None, "create_partitions(%s, 4): %s" % (topic, err))
    n = topic_partitions(client, topic, deadline.left())
    ic.check(n == 4, "list_topics shows %s partitions after create_partitions(4)" % n)
    ic.emit({"step": "create_partitions", "partitions": n})

    futures = client.create_topics([ckadmin.NewTopic(topic + "-rf3", 1, 3)],
                                   operation_timeout=10, request_timeout=10)
    err, _ = result(futures[topic + "-rf3"], deadline.left())
    ic.check(err is not None, "a topic with replication_factor=3 was created on one broker")
    ic.emit({"step": "refuse_rf3", "code": err.name(), "message": err.str()})
    ic.check(err.code() == confluent_kafka.KafkaError.INVALID_REPLICATION_FACTOR,
             "replication_factor=3: %s, expected INVALID_REPLICATION_FACTOR" % err)
    ic.check(topic_partitions(client, topic + "-rf3", deadline.left()) is None,
             "the refused topic exists")

    futures = client.create_topics([ckadmin.NewTopic(topic, 1, 1)],
                                   operation_timeout=10, request_timeout=10)
    err, _ = result(futures[topic], deadline.left())
    ic.check(err is not None and err.code() == confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS,
             "creating %s again: %s, expected TOPIC_ALREADY_EXISTS" % (topic, err))
    ic.emit({"step": "refuse_existing", "code": err.name()})

    futures = client.delete_topics([topic], operation_timeout=10, request_timeout=10)
    err, _ = result(futures[topic], deadline.left())
    ic.check(err is None, "delete_topics(%s): %s" % (topic, err))
    ic.check(topic_partitions(client, topic, deadline.left()) is None,
             "list_topics still shows %s after delete_topics" % topic)
    ic.emit({"step": "delete_topics", "topic": topic})


if __name__ == "__main__":
    main()
