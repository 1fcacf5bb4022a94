# Shared helpers for the interop scripts run by tests/broker/interop_test.cc.
#
# Every script is run as `/usr/bin/python3 -B SCRIPT --bootstrap HOST:PORT ...`
# (Debian's confluent-kafka and kafka-python import only under /usr/bin/python3).
# Scripts print one JSON object per line on stdout (records, results, a final
# summary) and exit non-zero with a one-line "FAIL: ..." on stderr when the
# scenario does not hold. Every wait has a deadline; none sleeps to
# synchronise.
import argparse
import json
import sys
import time

# Short waits keep the suite fast; the broker is on loopback.
FETCH_WAIT_MS = 100
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_MS = 1000
METADATA_MAX_AGE_MS = 1000


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--bootstrap", required=True, help="HOST:PORT of the broker")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds allowed for the whole scenario's waits")
    return p


def emit(obj):
    """Prints |obj| as one JSON line, flushed at once (the driver may be reading)."""
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def fail(message):
    sys.stderr.write("FAIL: " + message + "\n")
    sys.stderr.flush()
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return max(0.0, self.end - time.monotonic())

    def passed(self):
        return time.monotonic() >= self.end


# Appended to every value: librdkafka sends a batch uncompressed when the codec
# does not make it smaller, so values must be compressible.
PADDING = "." * 32


def record_values(prefix, count):
    """The (key, value) pairs the producer scripts send: PREFIX-k<i> /
    PREFIX-v<i> followed by PADDING."""
    return [("%s-k%d" % (prefix, i), "%s-v%d%s" % (prefix, i, PADDING)) for i in range(count)]


def decode(b):
    return None if b is None else b.decode("utf-8")


def ck_config(args, **extra):
    """A confluent-kafka (librdkafka) config for the broker under test."""
    c = {
        "bootstrap.servers": args.bootstrap,
        "reconnect.backoff.ms": 20,
        "reconnect.backoff.max.ms": 200,
        "topic.metadata.refresh.interval.ms": METADATA_MAX_AGE_MS,
    }
    c.update(extra)
    return c


def ck_consumer_config(args, group, **extra):
    c = ck_config(args, **{
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": FETCH_WAIT_MS,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_MS,
        "partition.assignment.strategy": "range",
    })
    c.update(extra)
    return c


def kp_common(args):
    """kafka-python keyword arguments for the broker under test. api_version
    is left to kafka-python's ApiVersions-based inference unless
    --kp-api-version is given."""
    kw = {
        "bootstrap_servers": args.bootstrap,
        "reconnect_backoff_ms": 20,
        "reconnect_backoff_max_ms": 200,
        "retry_backoff_ms": 50,
        "metadata_max_age_ms": METADATA_MAX_AGE_MS,
    }
    v = getattr(args, "kp_api_version", None)
    if v:
        kw["api_version"] = tuple(int(x) for x in v.split("."))
    return kw


def add_kp_args(p):
    p.add_argument("--kp-api-version", default="",
                   help="pin kafka-python's api_version (e.g. 2.3.0) instead of inferring it")
