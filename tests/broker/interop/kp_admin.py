# kafka-python's KafkaAdminClient against the broker: create_topics (with a
# config), list_topics, describe_configs, the replication-factor refusal and
# delete_topics. Prints one {"step": ...} line per step.
import kafka
from kafka import admin as kpadmin
from kafka import errors as kperrors

import interop_common as ic


def main():
    p = ic.parser(__doc__)
    ic.add_kp_args(p)
    p.add_argument("--topic", required=True)
    args = p.parse_args()
    deadline = ic.Deadline(args.timeout)
    client = kpadmin.KafkaAdminClient(request_timeout_ms=int(args.timeout * 1000),
                                      **ic.kp_common(args))
    ic.emit({"step": "connect", "api_version": list(client.config["api_version"])})
    topic = args.topic

    resp = client.create_topics([kpadmin.NewTopic(topic, 3, 1,
                                                  topic_configs={"retention.ms": "7200000"})],
                                timeout_ms=10000)
    errs = [(t, code) for t, code, *_ in resp.topic_errors if code != 0]
    ic.check(not errs, "create_topics(%s): %s" % (topic, errs))
    ic.emit({"step": "create_topics", "topic": topic, "version": resp.API_VERSION})

    topics = None
    while topics is None or topic not in topics:
        ic.check(not deadline.passed(), "list_topics never showed %s: %s" % (topic, topics))
        topics = client.list_topics()
    ic.emit({"step": "list_topics", "topics": sorted(topics)})

    parts = client.describe_topics([topic])[0]["partitions"]
    ic.check(len(parts) == 3, "describe_topics(%s): %d partitions, expected 3" %
             (topic, len(parts)))

    resp = client.describe_configs([kpadmin.ConfigResource(kpadmin.ConfigResourceType.TOPIC,
                                                           topic)])[0]
    (code, message, _, _, entries), = resp.resources
    ic.check(code == 0, "describe_configs(%s): error %d %s" % (topic, code, message))
    configs = {e[0]: e[1] for e in entries}
    ic.emit({"step": "describe_configs", "version": resp.API_VERSION, "configs": configs})
    ic.check(configs.get("retention.ms") == "7200000",
             "retention.ms = %r, expected 7200000" % configs.get("retention.ms"))

    try:
        resp = client.create_topics([kpadmin.NewTopic(topic + "-rf3", 1, 3)], timeout_ms=10000)
        codes = [code for _, code, *_ in resp.topic_errors]
    except kperrors.KafkaError as e:  # kafka-python raises on some versions
        codes = [getattr(e, "errno", -1)]
    ic.check(codes == [kperrors.InvalidReplicationFactorError.errno],
             "replication_factor=3 gave %s, expected INVALID_REPLICATION_FACTOR" % codes)
    ic.emit({"step": "refuse_rf3", "codes": codes})

    resp = client.delete_topics([topic], timeout_ms=10000)
    errs = [(t, code) for t, code in resp.topic_error_codes if code != 0]
    ic.check(not errs, "delete_topics(%s): %s" % (topic, errs))
    topics = [topic]
    while topic in topics:
        ic.check(not deadline.passed(), "list_topics still shows %s" % topic)
        topics = client.list_topics()
    ic.emit({"step": "delete_topics", "topic": topic})
    client.close()


if __name__ == "__main__":
    main()
