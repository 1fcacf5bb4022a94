"""Drives weir's registry REST API with confluent-kafka's SchemaRegistryClient
(Debian's python3-confluent-kafka), an independent client.

Usage: confluent_client_interop.py URL
Prints one line per step; exits non-zero with the failing step on stderr.
"""
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

PLATE = {
    "type": "record", "name": "Plate", "namespace": "alpr",
    "fields": [{"name": "plate", "type": "string"}, {"name": "speed", "type": "int"}],
}


def plate(*extra):
    schema = json.loads(json.dumps(PLATE))
    schema["fields"].extend(extra)
    return Schema(json.dumps(schema), "AVRO")


def expect(cond, what):
    if not cond:
        print("FAILED: " + what, file=sys.stderr)
        sys.exit(1)
    print("ok: " + what)


def expect_error(fn, http_status, error_code, what):
    try:
        fn()
    except SchemaRegistryError as e:
        expect(e.http_status_code == http_status and e.error_code == error_code,
               "%s -> %s/%s (got %s/%s: %s)" % (what, http_status, error_code,
                                                e.http_status_code, e.error_code, e.error_message))
        return
    expect(False, what + ": no error raised")


def main():
    client = SchemaRegistryClient({"url": sys.argv[1]})
    subject = "alpr.events.plates-value"

    sid = client.register_schema(subject, plate())
    expect(isinstance(sid, int) and sid > 0, "register_schema returns an id")
    again = SchemaRegistryClient({"url": sys.argv[1]}).register_schema(subject, plate())
    expect(again == sid, "registering the same schema again (fresh client) returns the same id")

    fetched = SchemaRegistryClient({"url": sys.argv[1]}).get_schema(sid)
    expect(fetched.schema_type == "AVRO", "get_schema: type AVRO")
    got = json.loads(fetched.schema_str)
    expect(got["name"] == "alpr.Plate" and [f["name"] for f in got["fields"]] == ["plate", "speed"],
           "get_schema: the same record")

    latest = client.get_latest_version(subject)
    expect(latest.schema_id == sid and latest.version == 1 and latest.subject == subject,
           "get_latest_version")
    expect(client.get_version(subject, 1).schema_id == sid, "get_version(1)")
    expect(client.get_versions(subject) == [1], "get_versions")
    expect(subject in client.get_subjects(), "get_subjects")
    looked = client.lookup_schema(subject, plate())
    expect(looked.schema_id == sid and looked.version == 1, "lookup_schema")

    compatible = plate({"name": "colour", "type": "string", "default": ""})
    incompatible = plate({"name": "colour", "type": "string"})
    expect(client.test_compatibility(subject, compatible) is True,
           "test_compatibility: a field with a default is compatible")
    expect(client.test_compatibility(subject, incompatible) is False,
           "test_compatibility: a field without a default is not")
    expect_error(lambda: client.register_schema(subject, incompatible), 409, 409,
                 "register an incompatible schema")
    v2 = client.register_schema(subject, compatible)
    expect(v2 != sid, "register a compatible schema: a new id")
    expect(client.get_latest_version(subject).version == 2, "the new version is latest")

    client.set_compatibility(subject_name=subject, level="FULL")
    expect(client.get_compatibility(subject) == "FULL", "set/get the subject's compatibility")
    client.set_compatibility(level="forward_transitive")
    expect(client.get_compatibility() == "FORWARD_TRANSITIVE", "set/get the global compatibility")
    expect_error(lambda: client.set_compatibility(level="SIDEWAYS"), 422, 42203,
                 "an unknown compatibility level")

    json_subject = "user-activity-logs-value"
    js = Schema(json.dumps({"type": "object", "properties": {"user_id": {"type": "string"}}}),
                "JSON")
    jid = client.register_schema(json_subject, js)
    expect(SchemaRegistryClient({"url": sys.argv[1]}).get_schema(jid).schema_type == "JSON",
           "a JSON Schema keeps its type")

    expect_error(lambda: SchemaRegistryClient({"url": sys.argv[1]}).get_schema(99999), 404, 40403,
                 "get_schema of an unknown id")
    expect_error(lambda: client.get_latest_version("no-such-subject"), 404, 40401,
                 "get_latest_version of an unknown subject")
    expect_error(lambda: client.get_version(subject, 42), 404, 40402, "an unknown version")
    expect_error(lambda: client.register_schema("bad", Schema('{"type": "recor"}', "AVRO")), 422,
                 42201, "register an invalid schema")

    expect(client.delete_version(subject, 1) == 1, "delete_version")
    expect(client.delete_subject(json_subject) == [1], "delete_subject")
    expect(json_subject not in client.get_subjects(), "a deleted subject is not listed")
    print("OK")


if __name__ == "__main__":
    main()
