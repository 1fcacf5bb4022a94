# confluent-kafka's view of a group's committed offsets on TOPIC. With
# --commit P=OFFSET,... first commits them synchronously from a consumer that
# is not a group member. Prints {"committed": {"P": {"offset": O}}}
# (offset -1001, OFFSET_INVALID: none). confluent-kafka 1.7's TopicPartition
# carries no commit metadata.
import confluent_kafka

import interop_common as ic


def main():
    p = ic.parser(__doc__)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--commit", default="", help="P=OFFSET,...")
    args = p.parse_args()
    deadline = ic.Deadline(args.timeout)

    consumer = confluent_kafka.Consumer(ic.ck_consumer_config(args, args.group))
    md = consumer.list_topics(args.topic, timeout=deadline.left())
    t = md.topics.get(args.topic)
    ic.check(t is not None and t.error is None, "topic %s: %s" % (args.topic, t and t.error))
    commits = {int(k): int(v) for k, v in
               (item.split("=", 1) for item in filter(None, args.commit.split(",")))}
    if commits:
        consumer.commit(offsets=[confluent_kafka.TopicPartition(args.topic, part, off)
                                 for part, off in commits.items()], asynchronous=False)
    tps = [confluent_kafka.TopicPartition(args.topic, part) for part in sorted(t.partitions)]
    committed = {}
    for tp in consumer.committed(tps, timeout=deadline.left()):
        ic.check(tp.error is None, "committed(%d): %s" % (tp.partition, tp.error))
        committed[str(tp.partition)] = {"offset": tp.offset}
    for part, off in commits.items():
        ic.check(committed[str(part)]["offset"] == off, "partition %d reads back %s after "
                 "committing %d" % (part, committed[str(part)], off))
    consumer.close()
    ic.emit({"committed": committed})


if __name__ == "__main__":
    main()
