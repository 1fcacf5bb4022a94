# Reads records with kafka-python's KafkaConsumer until COUNT were seen,
# printing each as {"p": P, "o": OFFSET, "k": KEY, "v": VALUE}, then
#   {"consumed": N, "committed": {"P": OFFSET}, "api_version": [..]}.
# With --group: a group member (range assignor, auto_offset_reset='earliest',
# enable_auto_commit=False) that commit()s what it read and checks committed();
# without: every partition assigned from the beginning.
import kafka
from kafka.coordinator.assignors.range import RangePartitionAssignor

import interop_common as ic


def main():
    p = ic.parser(__doc__)
    ic.add_kp_args(p)
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--group", default="")
    args = p.parse_args()
    deadline = ic.Deadline(args.timeout)

    consumer = kafka.KafkaConsumer(
        group_id=args.group or None, auto_offset_reset="earliest", enable_auto_commit=False,
        fetch_max_wait_ms=ic.FETCH_WAIT_MS, session_timeout_ms=ic.SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=ic.HEARTBEAT_MS,
        partition_assignment_strategy=[RangePartitionAssignor], **ic.kp_common(args))
    if args.group:
        consumer.subscribe([args.topic])
    else:
        parts = None
        while not parts:
            ic.check(not deadline.passed(), "no partitions for %s" % args.topic)
            parts = consumer.partitions_for_topic(args.topic)
        tps = [kafka.TopicPartition(args.topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
    seen = 0
    next_offsets = {}
    while seen < args.count:
        ic.check(not deadline.passed(), "consumed %d of %d records in %.0fs" %
                 (seen, args.count, args.timeout))
        for tp, msgs in consumer.poll(timeout_ms=200, max_records=500).items():
            for m in msgs:
                ic.emit({"p": m.partition, "o": m.offset, "k": ic.decode(m.key),
                         "v": ic.decode(m.value)})
                next_offsets[m.partition] = m.offset + 1
                seen += 1
    committed = {}
    if args.group:
        consumer.commit()  # the positions: every record returned by poll()
        for part, off in sorted(next_offsets.items()):
            got = consumer.committed(kafka.TopicPartition(args.topic, part))
            ic.check(got == off, "partition %d committed %r, expected %d" % (part, got, off))
            committed[str(part)] = got
    api_version = consumer.config["api_version"]
    consumer.close()
    ic.emit({"consumed": seen, "committed": committed, "api_version": list(api_version)})


if __name__ == "__main__":
    main()
