#!/usr/bin/python3
"""Writes N JSON plate-event lines of about 200 bytes each to stdout."""
import json
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
rnd = random.Random(42)
out = sys.stdout
letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
buf = []
for i in range(n):
    plate = "".join(rnd.choice(letters) for _ in range(3)) + "%04d" % rnd.randrange(10000)
    ev = {
        "event_id": "%016x" % rnd.getrandbits(64),
        "camera_id": "cam-%02d" % rnd.randrange(1, 17),
        "captured_at": "2026-11-22T10:%02d:%02d.%03dZ" % (i // 60000 % 60, i // 1000 % 60, i % 1000),
        "plate": {"text": plate, "confidence": round(rnd.uniform(0.7, 0.99), 3), "region": "US-FL"},
        "vehicle": {"type": "car", "color": "silver"},
        "track_id": "t-%d" % (i % 97),
    }
    buf.append(json.dumps(ev, separators=(",", ":")))
    if len(buf) == 10000:
        out.write("\n".join(buf) + "\n")
        buf = []
if buf:
    out.write("\n".join(buf) + "\n")
