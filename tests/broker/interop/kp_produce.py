# Produces COUNT keyed records (PREFIX-k<i> = PREFIX-v<i>) with kafka-python's
# KafkaProducer (acks='all', the given codec: gzip or none, the only ones
# Debian's kafka-python can also read back). Prints
#   {"delivered": N, "partitions": {"P": [first_offset, last_offset]},
#    "api_version": [..]}
import kafka

import interop_common as ic


def main():
    p = ic.parser(__doc__)
    ic.add_kp_args(p)
    p.add_argument("--topic", required=True)
    p.add_argument("--codec", default="none", choices=["none", "gzip"])
    p.add_argument("--prefix", required=True)
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--partition", type=int, default=-1, help="-1: the default partitioner")
    args = p.parse_args()

    producer = kafka.KafkaProducer(
        acks="all", linger_ms=5, retries=3, request_timeout_ms=int(args.timeout * 1000),
        compression_type=None if args.codec == "none" else args.codec, **ic.kp_common(args))
    futures = []
    for key, value in ic.record_values(args.prefix, args.count):
        kw = {"partition": args.partition} if args.partition >= 0 else {}
        futures.append(producer.send(args.topic, key=key.encode(), value=value.encode(), **kw))
    producer.flush(timeout=args.timeout)
    offsets = {}
    for f in futures:
        try:
            md = f.get(timeout=args.timeout)
        except kafka.errors.KafkaError as e:
            ic.fail("delivery failed: %r" % e)
        first, last = offsets.get(md.partition, (md.offset, md.offset))
        offsets[md.partition] = (min(first, md.offset), max(last, md.offset))
    api_version = producer.config["api_version"]
    producer.close(timeout=args.timeout)
    delivered = sum(last - first + 1 for first, last in offsets.values())
    ic.check(delivered == args.count,
             "offsets span %d records, produced %d: %s" % (delivered, args.count, offsets))
    ic.emit({"delivered": delivered, "api_version": list(api_version),
             "partitions": {str(k): list(v) for k, v in sorted(offsets.items())}})


if __name__ == "__main__":
    main()
