#!/usr/bin/python3
"""python3-avro side of weir's Avro interop tests (avro_interop_test.cc).

Uses Debian's python3-avro, an implementation independent of weir's.
Datums are exchanged as JSON in the Avro JSON encoding and as hex strings.

  avro_py.py encode SCHEMA DATUM_JSON     print hex of the datum written by python
  avro_py.py reencode SCHEMA HEX          read HEX with python, write it again
  avro_py.py resolve WRITER READER HEX    read HEX as WRITER into READER, write as READER
  avro_py.py canonical SCHEMA             print the Parsing Canonical Form
  avro_py.py fingerprint TEXT             print CRC-64-AVRO of TEXT, as 16 hex digits
"""
import datetime
import decimal
import io
import json
import sys
import warnings

import avro.io
import avro.schema

EPOCH_DATE = datetime.date(1970, 1, 1)
EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
NAMED = ("record", "error", "enum", "fixed")


def branch_name(s):
    return s.fullname if s.type in NAMED else s.type


def to_py(s, j):
    """Avro JSON encoding -> the python objects python3-avro writes."""
    if isinstance(s, avro.schema.UnionSchema):
        if j is None:
            return None
        ((name, v),) = j.items()
        for b in s.schemas:
            if branch_name(b) == name:
                return to_py(b, v)
        raise ValueError(f"no branch {name}")
    lt = s.get_prop("logicalType")
    t = s.type
    if t in ("bytes", "fixed"):
        raw = j.encode("latin-1")
        if lt == "decimal":
            unscaled = int.from_bytes(raw, "big", signed=True)
            return decimal.Decimal(unscaled).scaleb(-(s.get_prop("scale") or 0))
        return raw
    if t == "int" and lt == "date":
        return EPOCH_DATE + datetime.timedelta(days=j)
    if t == "int" and lt == "time-millis":
        return (datetime.datetime(2000, 1, 1) + datetime.timedelta(milliseconds=j)).time()
    if t == "long" and lt == "time-micros":
        return (datetime.datetime(2000, 1, 1) + datetime.timedelta(microseconds=j)).time()
    if t == "long" and lt == "timestamp-millis":
        return EPOCH_UTC + datetime.timedelta(milliseconds=j)
    if t == "long" and lt == "timestamp-micros":
        return EPOCH_UTC + datetime.timedelta(microseconds=j)
    if t in ("float", "double") and isinstance(j, str):
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[j])
    if t in ("record", "error"):
        return {f.name: to_py(f.type, j[f.name]) for f in s.fields}
    if t == "array":
        return [to_py(s.items, x) for x in j]
    if t == "map":
        return {k: to_py(s.values, v) for k, v in j.items()}
    return j


def write(s, datum):
    out = io.BytesIO()
    avro.io.DatumWriter(s).write(datum, avro.io.BinaryEncoder(out))
    return out.getvalue().hex()


def read(writer, reader, hex_text):
    data = bytes.fromhex(hex_text)
    stream = io.BytesIO(data)
    datum = avro.io.DatumReader(writer, reader).read(avro.io.BinaryDecoder(stream))
    if stream.tell() != len(data):
        raise ValueError(f"{len(data) - stream.tell()} trailing bytes")
    return datum


def fingerprint(text):
    """CRC-64-AVRO, bit by bit as the specification describes it."""
    empty = 0xC15D213AA4D7A795
    fp = empty
    for byte in text.encode("utf-8"):
        fp ^= byte
        for _ in range(8):
            fp = (fp >> 1) ^ (empty if fp & 1 else 0)
    return fp


def load(path):
    with open(path, encoding="utf-8") as f:
        return avro.schema.parse(f.read())


def main(argv):
    warnings.simplefilter("ignore")
    cmd = argv[1]
    if cmd == "encode":
        s = load(argv[2])
        with open(argv[3], encoding="utf-8") as f:
            print(write(s, to_py(s, json.load(f))))
    elif cmd == "reencode":
        s = load(argv[2])
        print(write(s, read(s, s, argv[3])))
    elif cmd == "resolve":
        w, r = load(argv[2]), load(argv[3])
        print(write(r, read(w, r, argv[4])))
    elif cmd == "canonical":
        print(load(argv[2]).canonical_form)
    elif cmd == "fingerprint":
        print(f"{fingerprint(argv[2]):016x}")
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
