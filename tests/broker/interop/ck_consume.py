# Reads records with confluent-kafka until COUNT were seen, printing each as
#   {"p": P, "o": OFFSET, "k": KEY, "v": VALUE}
# and then {"consumed": N, "committed": {"P": OFFSET}}.
# With --group the consumer subscribes as a group member (range assignor) and
# commits synchronously what it read; without, it assigns every partition
# from the beginning.
import confluent_kafka

import interop_common as ic


def main():
    p = ic.parser(__doc__)
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--group", default="")
    args = p.parse_args()
    deadline = ic.Deadline(args.timeout)

    group = args.group or "interop-unused"
    consumer = confluent_kafka.Consumer(ic.ck_consumer_config(args, group))
    if args.group:
        consumer.subscribe([args.topic])
    else:
        md = consumer.list_topics(args.topic, timeout=deadline.left())
        t = md.topics.get(args.topic)
        ic.check(t is not None and t.error is None, "topic %s: %s" % (args.topic, t and t.error))
        consumer.assign([confluent_kafka.TopicPartition(args.topic, p, confluent_kafka.OFFSET_BEGINNING)
                         for p in sorted(t.partitions)])
    seen = 0
    next_offsets = {}
    while seen < args.count:
        ic.check(not deadline.passed(), "consumed %d of %d records in %.0fs" %
                 (seen, args.count, args.timeout))
        msgs = consumer.consume(num_messages=500, timeout=0.2)
        for m in msgs:
            if m.error() is not None:
                if m.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                    continue
                ic.fail("consume error: %s" % m.error())
            ic.emit({"p": m.partition(), "o": m.offset(), "k": ic.decode(m.key()),
                     "v": ic.decode(m.value())})
            next_offsets[m.partition()] = m.offset() + 1
            seen += 1
    committed = {}
    if args.group and next_offsets:
        tps = [confluent_kafka.TopicPartition(args.topic, p, o) for p, o in next_offsets.items()]
        consumer.commit(offsets=tps, asynchronous=False)
        for tp in consumer.committed(tps, timeout=deadline.left()):
            ic.check(tp.error is None, "committed(%d): %s" % (tp.partition, tp.error))
            committed[str(tp.partition)] = tp.offset
            ic.check(tp.offset == next_offsets[tp.partition],
                     "partition %d committed %d, expected %d" %
                     (tp.partition, tp.offset, next_offsets[tp.partition]))
    consumer.close()
    ic.emit({"consumed": seen, "committed": committed})


if __name__ == "__main__":
    main()
