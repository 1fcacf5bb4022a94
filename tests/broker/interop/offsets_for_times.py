# ListOffsets by timestamp from both Python clients. Produces, to partition 0
# of TOPIC, one batch of 10 records (codec CODEC) with CreateTime
# BASE+1000*(i+1) and then 5 single-record batches with BASE+20000+1000*i,
# then asks kafka-python (offsets_for_times, ListOffsets v1+) and
# confluent-kafka (offsets_for_times) for several targets. Prints
#   {"client": C, "target": T-BASE, "offset": O, "timestamp": TS-BASE or null}
# per query (offset -1: none). Checks here only what every Kafka broker
# promises and weir's embedded one documents for compressed batches
# (partition_log.h: they are not decompressed, so inside one the answer is
# the batch's base offset): no record before the answer has a timestamp >=
# the target, and the answer is at or before the first record that has. The
# test driver checks exactness (uncompressed batches are answered exactly).
import confluent_kafka
import kafka

import interop_common as ic

BASE = 1700000000000


def main():
    p = ic.parser(__doc__)
    ic.add_kp_args(p)
    p.add_argument("--topic", required=True)
    p.add_argument("--codec", default="none")
    args = p.parse_args()
    deadline = ic.Deadline(args.timeout)

    stamps = [BASE + 1000 * (i + 1) for i in range(10)] + [BASE + 20000 + 1000 * i for i in range(5)]
    producer = confluent_kafka.Producer(ic.ck_config(args, **{
        "linger.ms": 1000, "batch.num.messages": 10, "compression.type": args.codec}))
    for i, ts in enumerate(stamps[:10]):
        producer.produce(args.topic, value="r%d" % i, partition=0, timestamp=ts)
    ic.check(producer.flush(deadline.left()) == 0, "first batch not acknowledged")
    for i, ts in enumerate(stamps[10:], start=10):
        producer.produce(args.topic, value="r%d" % i, partition=0, timestamp=ts)
        ic.check(producer.flush(deadline.left()) == 0, "record %d not acknowledged" % i)

    targets = [BASE, BASE + 5500, BASE + 10000, BASE + 10001, BASE + 21000, BASE + 24000,
               BASE + 24001]
    kp = kafka.KafkaConsumer(**ic.kp_common(args))
    ck = confluent_kafka.Consumer(ic.ck_consumer_config(args, "unused"))
    tp = kafka.TopicPartition(args.topic, 0)
    for target in targets:
        got = kp.offsets_for_times({tp: target})[tp]
        answers = [("kp", -1 if got is None else got.offset,
                    None if got is None else got.timestamp - BASE)]
        (got_ck,) = ck.offsets_for_times([confluent_kafka.TopicPartition(args.topic, 0, target)],
                                         timeout=deadline.left())
        ic.check(got_ck.error is None, "confluent offsets_for_times: %s" % got_ck.error)
        answers.append(("ck", got_ck.offset, None))
        exact = next((i for i, ts in enumerate(stamps) if ts >= target), -1)
        for client, offset, timestamp in answers:
            ic.emit({"client": client, "target": target - BASE, "offset": offset,
                     "timestamp": timestamp, "exact": exact})
            if exact == -1:
                ic.check(offset == -1, "%s: target +%d is after every record, got offset %d" %
                         (client, target - BASE, offset))
                continue
            ic.check(0 <= offset <= exact, "%s: target +%d: offset %d, the first record at or "
                     "after it is %d" % (client, target - BASE, offset, exact))
            ic.check(all(ts < target for ts in stamps[:offset]),
                     "%s: target +%d: offset %d skips a record at or after it" %
                     (client, target - BASE, offset))
            if timestamp is not None:
                ic.check(timestamp + BASE >= target, "%s: target +%d answered with timestamp "
                         "+%d" % (client, target - BASE, timestamp))
    kp.close()
    ck.close()


if __name__ == "__main__":
    main()
