# kafka-python's view of a group's committed offsets on TOPIC. With --commit
# P=OFFSET[:METADATA],... first commits them (explicit OffsetAndMetadata, from
# a consumer that is not a group member: generation -1). Prints
#   {"committed": {"P": {"offset": O, "metadata": M}}}  (offset -1: none).
import kafka
from kafka.structs import OffsetAndMetadata

import interop_common as ic


def parse_commits(text):
    out = {}
    for item in filter(None, text.split(",")):
        part, rest = item.split("=", 1)
        offset, _, metadata = rest.partition(":")
        out[int(part)] = (int(offset), metadata)
    return out


def main():
    p = ic.parser(__doc__)
    ic.add_kp_args(p)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--commit", default="", help="P=OFFSET[:METADATA],...")
    args = p.parse_args()
    deadline = ic.Deadline(args.timeout)

    consumer = kafka.KafkaConsumer(group_id=args.group, enable_auto_commit=False,
                                   **ic.kp_common(args))
    parts = None
    while not parts:
        ic.check(not deadline.passed(), "no partitions for %s" % args.topic)
        parts = consumer.partitions_for_topic(args.topic)
    tps = [kafka.TopicPartition(args.topic, p) for p in sorted(parts)]
    commits = parse_commits(args.commit)
    if commits:
        consumer.assign(tps)
        consumer.commit({kafka.TopicPartition(args.topic, part): OffsetAndMetadata(off, meta)
                         for part, (off, meta) in commits.items()})
    committed = {}
    for tp in tps:
        got = consumer.committed(tp, metadata=True)
        committed[str(tp.partition)] = ({"offset": -1, "metadata": ""} if got is None else
                                        {"offset": got.offset, "metadata": got.metadata})
    for part, (off, meta) in commits.items():
        ic.check(committed[str(part)] == {"offset": off, "metadata": meta},
                 "partition %d reads back %s after committing %d:%r" %
                 (part, committed[str(part)], off, meta))
    consumer.close(autocommit=False)
    ic.emit({"committed": committed})


if __name__ == "__main__":
    main()
