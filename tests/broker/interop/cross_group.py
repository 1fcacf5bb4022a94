# One consumer group, two client libraries: a confluent-kafka consumer and a
# kafka-python consumer (both with the "range" assignor) on a TOPIC of six
# partitions, each polled on its own thread and committing after every batch.
#   1. both members get a non-empty, disjoint share covering every partition;
#   2. every record produced before and while they share the topic is read
#      (at least once) by one of them, and each of them reads some;
#   3. LEAVER (ck or kp) closes (LeaveGroup) -- or, with "kp-killed", the
#      kafka-python member runs in a child process (kp_member.py) that is
#      killed with SIGKILL, so the broker must expire its session -- and the
#      other takes over all six partitions and reads the records produced
#      after.
# While both are members, kafka-python's admin client must describe the group
# (Stable, protocol range, each member's assignment) and list its offsets.
# Prints {"phase": ...} lines and a final {"summary": ...}.
import json
import os
import signal
import subprocess
import sys
import threading

import confluent_kafka
import kafka
from kafka.coordinator.assignors.range import RangePartitionAssignor

import interop_common as ic

PARTITIONS = 6


class Member(threading.Thread):
    """Polls one consumer until stopped, then closes it (leaving the group)."""

    def __init__(self, name, shared):
        super().__init__(name=name, daemon=True)
        self.shared = shared
        self.stop = threading.Event()
        self.error = None

    def note(self, assignment, records):
        with self.shared["lock"]:
            self.shared["assignment"][self.name] = sorted(assignment)
            for partition, offset, value in records:
                self.shared["seen"].setdefault(value, []).append((self.name, partition, offset))

    def run(self):
        try:
            self.loop()
        except Exception as e:  # reported by the main thread
            self.error = "%s: %r" % (self.name, e)


class CkMember(Member):
    def __init__(self, args, shared):
        super().__init__("ck", shared)
        self.consumer = confluent_kafka.Consumer(ic.ck_consumer_config(args, args.group))
        self.consumer.subscribe([args.topic])

    def loop(self):
        c = self.consumer
        while not self.stop.is_set():
            msgs = c.consume(num_messages=200, timeout=0.1)
            records = []
            for m in msgs:
                if m.error() is None:
                    records.append((m.partition(), m.offset(), ic.decode(m.value())))
            if records:
                try:
                    c.commit(asynchronous=False)
                except confluent_kafka.KafkaException as e:  # a rebalance: read again later
                    ic.emit({"member": self.name, "commit_error": str(e)})
            self.note([tp.partition for tp in c.assignment()], records)
        c.close()
        self.note([], [])


class KpMember(Member):
    def __init__(self, args, shared):
        super().__init__("kp", shared)
        self.consumer = kafka.KafkaConsumer(
            group_id=args.group, auto_offset_reset="earliest", enable_auto_commit=False,
            fetch_max_wait_ms=ic.FETCH_WAIT_MS, session_timeout_ms=ic.SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=ic.HEARTBEAT_MS,
            partition_assignment_strategy=[RangePartitionAssignor], **ic.kp_common(args))
        self.consumer.subscribe([args.topic])

    def loop(self):
        c = self.consumer
        while not self.stop.is_set():
            records = []
            for tp, msgs in c.poll(timeout_ms=100, max_records=200).items():
                records.extend((m.partition, m.offset, ic.decode(m.value)) for m in msgs)
            if records:
                try:
                    c.commit()
                except kafka.errors.KafkaError as e:  # a rebalance: read again later
                    ic.emit({"member": self.name, "commit_error": repr(e)})
            self.note([tp.partition for tp in c.assignment()], records)
        c.close()  # sends LeaveGroup
        self.note([], [])


class KilledKpMember(Member):
    """kp_member.py in a child process; stop kills it with SIGKILL."""

    def __init__(self, args, shared):
        super().__init__("kp", shared)
        here = os.path.dirname(os.path.abspath(__file__))
        argv = [sys.executable, "-B", os.path.join(here, "kp_member.py"), "--bootstrap",
                args.bootstrap, "--topic", args.topic, "--group", args.group,
                "--timeout", str(4 * args.timeout)]
        if args.kp_api_version:
            argv += ["--kp-api-version", args.kp_api_version]
        self.child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)

    def loop(self):
        killer = threading.Thread(target=self.kill_when_stopped, daemon=True)
        killer.start()
        for line in self.child.stdout:
            j = json.loads(line)
            if "assignment" in j:
                self.note(j["assignment"], [])
            elif "p" in j:
                self.note(self.shared["assignment"]["kp"], [(j["p"], j["o"], j["v"])])
        self.child.wait()
        self.note([], [])

    def kill_when_stopped(self):
        self.stop.wait()
        self.child.send_signal(signal.SIGKILL)


def describe_group(args):
    """kafka-python's admin view of the group: (state, protocol, {member: partitions})."""
    admin = kafka.KafkaAdminClient(**ic.kp_common(args))
    (info,) = admin.describe_consumer_groups([args.group])
    members = {}
    for m in info.members:
        parts = []
        for topic, ps in m.member_assignment.assignment:
            ic.check(topic == args.topic, "member %s assigned topic %s" % (m.member_id, topic))
            parts.extend(ps)
        members[m.client_id] = sorted(parts)
    offsets = admin.list_consumer_group_offsets(args.group)
    admin.close()
    return info.state, info.protocol, members, {tp.partition: o.offset for tp, o in offsets.items()}


def produce(args, prefix):
    producer = confluent_kafka.Producer(ic.ck_config(args, **{"linger.ms": 5}))
    values = []
    for i in range(args.count):
        value = "%s-%d" % (prefix, i)
        producer.produce(args.topic, value=value, partition=i % PARTITIONS)
        values.append(value)
    ic.check(producer.flush(args.timeout) == 0, "producing %s: not all acknowledged" % prefix)
    return values


def main():
    p = ic.parser(__doc__)
    ic.add_kp_args(p)
    p.add_argument("--topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--leaver", choices=["ck", "kp", "kp-killed"], default="kp")
    p.add_argument("--count", type=int, default=120, help="records produced per phase")
    args = p.parse_args()

    shared = {"lock": threading.Lock(), "assignment": {"ck": [], "kp": []}, "seen": {}}
    kp_member = KilledKpMember if args.leaver == "kp-killed" else KpMember
    members = {"ck": CkMember(args, shared), "kp": kp_member(args, shared)}
    leaver = args.leaver.split("-")[0]

    def wait_for(what, condition):
        deadline = ic.Deadline(args.timeout)
        while True:
            for m in members.values():
                ic.check(m.error is None, m.error or "")
            with shared["lock"]:
                if condition():
                    return
            if deadline.passed():
                with shared["lock"]:
                    ic.fail("%s within %.0fs; assignments %s, %d distinct records seen" %
                            (what, args.timeout, shared["assignment"], len(shared["seen"])))
            # Not a sleep for synchronisation: a bounded wait for a member's
            # progress, re-checked on every wake-up.
            members["ck"].stop.wait(0.05)

    def shared_evenly():
        a, b = shared["assignment"]["ck"], shared["assignment"]["kp"]
        return a and b and not set(a) & set(b) and sorted(a + b) == list(range(PARTITIONS))

    def all_seen(values):
        return lambda: all(v in shared["seen"] for v in values)

    before = produce(args, "before")
    for m in members.values():
        m.start()
    wait_for("both members sharing the six partitions", shared_evenly)
    with shared["lock"]:
        ic.emit({"phase": "shared", "assignment": dict(shared["assignment"])})
    during = produce(args, "during")
    wait_for("every record read", all_seen(before + during))
    with shared["lock"]:
        readers = {m for v in during for m, _, _ in shared["seen"][v]}
        ic.emit({"phase": "read", "readers_of_during": sorted(readers)})
    ic.check(readers == {"ck", "kp"}, "records produced while sharing were read only by %s" %
             sorted(readers))
    # While sharing, each record is read by the member owning its partition.
    with shared["lock"]:
        owner = {p: n for n in ("ck", "kp") for p in shared["assignment"][n]}
        wrong = [(v, r) for v in during for r in shared["seen"][v] if owner[r[1]] != r[0]]
    ic.check(not wrong, "records read by a member not owning their partition: %s" % wrong[:5])

    state, protocol, described, offsets = describe_group(args)
    ic.emit({"phase": "described", "state": state, "protocol": protocol,
             "members": described, "offsets": offsets})
    ic.check(state == "Stable" and protocol == "range",
             "described as %s/%s, expected Stable/range" % (state, protocol))
    with shared["lock"]:
        ic.check(sorted(described.values()) == sorted(shared["assignment"].values()),
                 "described assignments %s, members report %s" %
                 (described, shared["assignment"]))

    stayer = "ck" if leaver == "kp" else "kp"
    members[leaver].stop.set()
    members[leaver].join(args.timeout)
    ic.check(not members[leaver].is_alive(), "%s did not close" % leaver)
    wait_for("%s taking over all partitions" % stayer,
             lambda: shared["assignment"][stayer] == list(range(PARTITIONS)))
    ic.emit({"phase": "takeover", "member": stayer})
    after = produce(args, "after")
    wait_for("%s reading the records produced after the takeover" % stayer, all_seen(after))
    with shared["lock"]:
        wrong = [v for v in after if stayer not in {r[0] for r in shared["seen"][v]}]
    ic.check(not wrong, "records produced after the takeover not read by %s: %s" %
             (stayer, wrong[:5]))
    members[stayer].stop.set()
    members[stayer].join(args.timeout)
    with shared["lock"]:
        seen = shared["seen"]
        dups = sum(len(r) - 1 for r in seen.values())
        by_member = {n: sum(1 for r in seen.values() for x in r if x[0] == n) for n in members}
    ic.emit({"summary": {"distinct": len(seen), "produced": 3 * args.count,
                         "duplicates": dups, "by_member": by_member}})
    ic.check(len(seen) == 3 * args.count, "read %d distinct records of %d" %
             (len(seen), 3 * args.count))


if __name__ == "__main__":
    main()
