#!/usr/bin/env python3
"""Availability of zkserver and Apache ZooKeeper 3.8 under the same probes, in one run, one engine after
the other on the same machine:

  * failover: kill -9 of the leader (its connections close) and SIGSTOP of it (nothing closes): time
    from the fault to the first write acknowledged through another member (a write retried every 20 ms,
    round robin over the survivors); 3 nodes, tickTime=2000;
  * planned operations: `zkctl restart --rolling` and `zkctl upgrade` of 3 and of 5 nodes with one
    writer pinned to each member (zktest.pinned): the longest stretch with no acknowledged write
    anywhere in the ensemble, acknowledged writes lost, writes that failed for good;
  * partition heal (root: each member in its own network namespace, 5 nodes): a follower, then the
    leader, cut off from every other member for 12 s while writes go on; then the time from the heal
    until the cut-off member serves again, and whether the ensemble held a new election after the heal.

    cd Tests && ZK_RUN_AS=zkuser python3 -m reliability.availability            # everything, both engines
    cd Tests && python3 -m reliability.availability --only failover --runs 5
    cd Tests && python3 -m reliability.availability --engine zkserver --json

A root process runs zkctl and the servers as ZK_RUN_AS (zktest.runas); the partition part needs root.
Prints one table; with --json also one JSON object per line.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import logging

from kazoo.client import KazooClient

from zktest import netns
from zktest.ensemble import Ensemble
from zktest.failover import fmt_runs, log, measure_failovers, median
from zktest.pinned import PinnedWriters
from zktest.rolling import Cluster, apache_target, copy_of_zkserver

logging.getLogger("kazoo").setLevel(logging.CRITICAL)

ENGINES = {"zkserver": "bundled", "apache": "apache"}
TIMING = dict(tick_time=2000, init_limit=10, sync_limit=5)


def failover(kind, runs, faults):
    with tempfile.TemporaryDirectory(prefix=f"avail-{kind}-") as d:
        ens = Ensemble(kind, d, voters=3, **TIMING).start()
        try:
            ens.wait_stable(timeout=120)
            return {f: measure_failovers(ens, runs, bound=60.0, fault=f) for f in faults}
        finally:
            ens.close()


def planned(kind, nodes, op):
    """One zkctl operation under pinned writers; returns the row."""
    c = Cluster(engine=ENGINES[kind], nodes=nodes, name=f"av{nodes}")
    row = {"engine": kind, "op": f"{op} of {nodes}"}
    writers = None
    try:
        c.up()
        hosts = c.hosts(nodes).split(",")
        writers = PinnedWriters(hosts, pause=0.01)
        writers.start()
        time.sleep(2)
        args = ["restart", "--rolling"] if op == "rolling restart" else \
            ["upgrade", "--to", copy_of_zkserver() if kind == "zkserver" else apache_target()]
        t0 = time.monotonic()
        p = c.zkctl(*args, timeout=900, check=False)
        t1 = time.monotonic()
        if p.returncode != 0:
            row["error"] = f"zkctl {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-300:]}"
        time.sleep(2)
        writers.stop()
        checker = KazooClient(hosts=",".join(hosts), timeout=10.0)
        checker.start(timeout=60)
        try:
            lost = writers.verify(checker)
        finally:
            checker.stop()
            checker.close()
        row.update(gap_ms=round(writers.longest_gap(t0, t1) * 1000), acked=writers.acked, lost=len(lost),
                   failed=len(writers.failures), failures=writers.failures[:3], op_seconds=round(t1 - t0, 1))
    except Exception as e:  # noqa: BLE001 - a row with the error, the other rows still run
        row["error"] = f"{type(e).__name__}: {e}"
    finally:
        if writers:
            writers.close()
        c.down()
    return row


def serving_follower(node):
    return node.mode() in ("follower", "leader")


def heal(kind, who):
    """Cuts `who` ("follower" or "leader") off a 5-node ensemble for 12 s, heals, and times its return."""
    net = netns.Network(5).up()
    row = {"engine": kind, "cut": who}
    try:
        with tempfile.TemporaryDirectory(prefix=f"heal-{kind}-") as d:
            os.chmod(d, 0o755)
            ens = Ensemble(kind, d, voters=5, net=net, **TIMING).start()
            try:
                leader = ens.wait_stable(timeout=120)
                victim = leader if who == "leader" else next(n for n in ens.nodes if n is not leader)
                rest = [n for n in ens.nodes if n is not victim]
                client = KazooClient(hosts=",".join(n.hosts for n in rest), timeout=10.0)
                client.start(timeout=60)
                net.partition([victim.sid], [n.sid for n in rest])
                deadline = time.monotonic() + 12
                i = 0
                while time.monotonic() < deadline:
                    try:
                        client.create(f"/heal-{who}-{i}", b"x")
                        i += 1
                    except Exception:  # noqa: BLE001 - the majority may be electing
                        pass
                    time.sleep(0.05)
                before = ens.wait_stable(timeout=60, nodes=rest)
                epoch_before = before.zxid() >> 32
                t0 = time.monotonic()
                net.heal()
                back = None
                while time.monotonic() - t0 < 30:
                    if serving_follower(victim) and victim.zxid() is not None and victim.zxid() >= before.zxid() - 0:
                        back = time.monotonic() - t0
                        break
                    time.sleep(0.01)
                time.sleep(1)
                after = ens.wait_stable(timeout=60)
                client.stop()
                client.close()
                row.update(writes=i, serving_after_heal_ms=None if back is None else round(back * 1000),
                           new_election_after_heal=after.sid != before.sid or (after.zxid() >> 32) != epoch_before)
            finally:
                ens.close()
    except Exception as e:  # noqa: BLE001
        row["error"] = f"{type(e).__name__}: {e}"
    finally:
        net.down()
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=["both", "zkserver", "apache"], default="both")
    ap.add_argument("--only", choices=["all", "failover", "planned", "heal"], default="all")
    ap.add_argument("--runs", type=int, default=5, help="leader faults per engine and kind (default 5)")
    ap.add_argument("--nodes", default="3,5", help="ensemble sizes of the planned operations (default 3,5)")
    ap.add_argument("--ops", default="rolling restart,upgrade", help="planned operations (default both)")
    ap.add_argument("--json", action="store_true", help="also print each result as a JSON line")
    a = ap.parse_args(argv)
    kinds = ["zkserver", "apache"] if a.engine == "both" else [a.engine]
    results = {"failover": {}, "planned": [], "heal": []}
    if a.only in ("all", "failover"):
        for k in kinds:
            results["failover"][k] = failover(k, a.runs, ["kill", "stop"])
    if a.only in ("all", "planned"):
        for n in [int(x) for x in a.nodes.split(",")]:
            for op in a.ops.split(","):
                for k in kinds:
                    results["planned"].append(planned(k, n, op))
                    log(f"planned: {results['planned'][-1]}")
    if a.only in ("all", "heal"):
        ok, why = netns.available()
        if not ok:
            log(f"partition heal not measured: {why}")
        else:
            for who in ("follower", "leader"):
                for k in kinds:
                    results["heal"].append(heal(k, who))
                    log(f"heal: {results['heal'][-1]}")
    print(report(results))
    if a.json:
        print(json.dumps(results))
    return results


def report(results):
    lines = ["", "AVAILABILITY (same probes, one run, this machine)"]
    for fault, label in (("kill", "kill -9 leader -> first write on a survivor"),
                         ("stop", "SIGSTOP leader -> first write on a survivor")):
        cells = []
        for k, r in results["failover"].items():
            cells.append(f"{k} {fmt_runs(r[fault])}")
        if cells:
            meds = {k: median(r[fault]) for k, r in results["failover"].items()}
            ratio = ""
            if meds.get("zkserver") and meds.get("apache"):
                ratio = f" | ratio {meds['zkserver'] / meds['apache']:.2f}x"
            lines.append(f"{label}: " + " | ".join(cells) + ratio)
    for r in results["planned"]:
        if "error" in r and "gap_ms" not in r:
            lines.append(f"{r['op']} ({r['engine']}): ERROR {r['error']}")
            continue
        lines.append(f"{r['op']} ({r['engine']}), writers pinned to each member: longest ensemble-wide write gap "
                     f"{r['gap_ms']} ms, {r['acked']} acknowledged, {r['lost']} lost, {r['failed']} failed, "
                     f"operation {r['op_seconds']} s" + (f" ERROR {r['error']}" if r.get("error") else ""))
    for r in results["heal"]:
        if "error" in r:
            lines.append(f"partition heal, {r['cut']} cut off ({r['engine']}): ERROR {r['error']}")
            continue
        lines.append(f"partition heal, {r['cut']} cut off 12 s, 5 nodes ({r['engine']}): serving again "
                     f"{r['serving_after_heal_ms']} ms after the heal, election after the heal: "
                     f"{'YES' if r['new_election_after_heal'] else 'no'}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
