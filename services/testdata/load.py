#!/usr/bin/python3
"""Load client for deploykit's zero-downtime tests.

load.py URL COUNT CONCURRENCY MAX_SECONDS
Sends COUNT GET requests (a new connection each) from CONCURRENCY threads,
stops early after MAX_SECONDS, prints one JSON line: ok, failed, errors
(first few), seconds, and the distinct server pids that answered.
"""
import json
import sys
import threading
import time
import urllib.request

url, count, conc, max_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
lock = threading.Lock()
state = {"next": 0, "ok": 0, "failed": 0, "errors": [], "pids": set()}
start = time.monotonic()


def worker():
    while True:
        with lock:
            if state["next"] >= count or time.monotonic() - start > max_s:
                return
            state["next"] += 1
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = r.read().decode()
                ok = r.status == 200
        except Exception as e:  # noqa: BLE001 - every failure counts
            ok, body = False, repr(e)
        with lock:
            if ok:
                state["ok"] += 1
                state["pids"].add(body.split()[-1])
            else:
                state["failed"] += 1
                if len(state["errors"]) < 5:
                    state["errors"].append(body)


threads = [threading.Thread(target=worker) for _ in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"ok": state["ok"], "failed": state["failed"], "errors": state["errors"],
                  "seconds": round(time.monotonic() - start, 3), "pids": len(state["pids"])}))
