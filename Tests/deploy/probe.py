#!/usr/bin/env python3
"""Write load during a rolling operation: one kazoo client sets a znode in a loop until a stop
file appears (or a time limit), retrying each write on connection loss. A write that still
fails after the retries is a failure. Prints a JSON summary and exits 0."""
import argparse
import json
import os
import time

from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, KazooException, SessionExpiredError
from kazoo.retry import KazooRetry


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connect", required=True)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--max-seconds", type=float, default=240)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    retry = KazooRetry(max_tries=40, delay=0.1, backoff=1.5, max_delay=1.0, max_jitter=0.1,
                       ignore_expire=False)
    client = KazooClient(hosts=args.connect, timeout=10.0,
                         connection_retry=dict(max_tries=-1, delay=0.1, max_delay=1.0),
                         command_retry=dict(max_tries=40, delay=0.1, max_delay=1.0))
    client.start(timeout=15)
    client.ensure_path("/deploy-probe")
    writes = failures = retried = 0
    errors = []
    slowest = 0.0
    deadline = time.monotonic() + args.max_seconds
    while not os.path.exists(args.stop_file) and time.monotonic() < deadline:
        started = time.monotonic()
        attempts = {"n": 0}

        def write():
            attempts["n"] += 1
            client.set("/deploy-probe", str(writes).encode())

        try:
            retry(write)
            writes += 1
        except (ConnectionLoss, SessionExpiredError, KazooException) as exc:
            failures += 1
            errors.append("%s: %s" % (type(exc).__name__, exc))
        if attempts["n"] > 1:
            retried += 1
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0.05)
    client.stop()
    client.close()
    summary = {"writes": writes, "failures": failures, "writes_retried": retried,
               "slowest_write_seconds": round(slowest, 3), "errors": errors[:10]}
    with open(args.out, "w") as f:
        json.dump(summary, f)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
