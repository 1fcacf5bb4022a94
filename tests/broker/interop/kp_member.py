# A kafka-python group member (range assignor) run as a child process by
# cross_group.py, so that it can be killed with SIGKILL: no LeaveGroup, the
# broker has to expire its session. Prints {"assignment": [P...]} whenever
# its assignment changes and {"p": P, "o": OFFSET, "v": VALUE} per record;
# commits after every batch.
import kafka
from kafka.coordinator.assignors.range import RangePartitionAssignor

import interop_common as ic


def main():
    p = ic.parser(__doc__)
    ic.add_kp_args(p)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    args = p.parse_args()
    c = kafka.KafkaConsumer(
        group_id=args.group, auto_offset_reset="earliest", enable_auto_commit=False,
        fetch_max_wait_ms=ic.FETCH_WAIT_MS, session_timeout_ms=ic.SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=ic.HEARTBEAT_MS,
        partition_assignment_strategy=[RangePartitionAssignor], **ic.kp_common(args))
    c.subscribe([args.topic])
    deadline = ic.Deadline(args.timeout)
    assignment = None
    while not deadline.passed():  # normally killed long before
        got = False
        for tp, msgs in c.poll(timeout_ms=100, max_records=200).items():
            for m in msgs:
                ic.emit({"p": m.partition, "o": m.offset, "v": ic.decode(m.value)})
                got = True
        if got:
            try:
                c.commit()
            except kafka.errors.KafkaError as e:
                ic.emit({"commit_error": repr(e)})
        now = sorted(tp.partition for tp in c.assignment())
        if now != assignment:
            assignment = now
            ic.emit({"assignment": now})
    ic.fail("kp_member was not killed within %.0fs" % args.timeout)


if __name__ == "__main__":
    main()
