# Produces COUNT keyed records (PREFIX-k<i> = PREFIX-v<i>) with confluent-kafka:
# acks=all, idempotent, the given codec. Prints
#   {"delivered": N, "partitions": {"P": [first_offset, last_offset]}}
# and fails unless every record was acknowledged.
import confluent_kafka

import interop_common as ic


def main():
    p = ic.parser(__doc__)
    p.add_argument("--topic", required=True)
    p.add_argument("--codec", default="none", choices=["none", "gzip", "snappy", "lz4", "zstd"])
    p.add_argument("--prefix", required=True)
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--partition", type=int, default=-1, help="-1: the default partitioner")
    p.add_argument("--no-idempotence", action="store_true")
    args = p.parse_args()

    producer = confluent_kafka.Producer(ic.ck_config(
        args, **{
            "compression.type": args.codec,
            "enable.idempotence": not args.no_idempotence,
            "acks": "all",
            "linger.ms": 5,
            "retry.backoff.ms": 50,
            "message.timeout.ms": int(args.timeout * 1000),
        }))
    errors = []
    offsets = {}

    def on_delivery(err, msg):
        if err is not None:
            errors.append("%s: %s" % (ic.decode(msg.key()), err))
            return
        first, last = offsets.get(msg.partition(), (msg.offset(), msg.offset()))
        offsets[msg.partition()] = (min(first, msg.offset()), max(last, msg.offset()))

    for key, value in ic.record_values(args.prefix, args.count):
        kw = {"partition": args.partition} if args.partition >= 0 else {}
        producer.produce(args.topic, key=key, value=value, on_delivery=on_delivery, **kw)
        producer.poll(0)
    left = producer.flush(args.timeout)
    ic.check(left == 0, "%d record(s) still unacknowledged after %.0fs" % (left, args.timeout))
    ic.check(not errors, "delivery failed: " + "; ".join(errors[:5]))
    delivered = sum(last - first + 1 for first, last in offsets.values())
    ic.check(delivered == args.count,
             "offsets span %d records, produced %d: %s" % (delivered, args.count, offsets))
    ic.emit({"delivered": delivered,
             "partitions": {str(k): list(v) for k, v in sorted(offsets.items())}})


if __name__ == "__main__":
    main()
