#!/usr/bin/env python3
"""Seeded fault run against a real zkserver ensemble, with a linearizability check of the history.

    cd Tests && python3 -m reliability.run --seconds 60 --seed 7            # 5 nodes, the default
    cd Tests && python3 -m reliability.run --seconds 30 --fault stale-sync  # a deliberately broken server

(A module of Tests/, run from there, so that the test package zktest is importable.)

Clients run a versioned-register workload (write = setData, cas = setData with the version read before,
read = sync + getData) on a few znodes, plus unique appends (sequential creates). A nemesis kills (-9)
and restarts members, pauses them (SIGSTOP/SIGCONT), always leaving a majority untouched. Every
operation is recorded (invoke, ok/fail/info, times); afterwards each register's history is checked for
linearizability and every acknowledged append must still exist. Prints a summary (and one JSON line with
--json); exit status 0 only if no anomaly was found.
"""
import argparse
import json
import logging
import random
import sys
import tempfile
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError
from kazoo.retry import KazooRetry

from zktest import linearizability, netns
from zktest.ensemble import Ensemble

logging.getLogger("kazoo").setLevel(logging.CRITICAL)


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = []
        self.appends_acked = []
        self.counts = {}

    def add(self, key, op):
        with self.lock:
            self.ops.append((key, op))
            k = f"{op['f']}:{op['status']}"
            self.counts[k] = self.counts.get(k, 0) + 1


def now():
    return time.monotonic()


def client(hosts, timeout=4.0):
    c = KazooClient(hosts=hosts, timeout=timeout, randomize_hosts=False,
                    connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5))
    c.start(timeout=30)
    return c


def worker(idx, hosts, keys, rec, stop, seed, pace):
    rng = random.Random(seed * 1000 + idx)
    z = client(hosts)
    seq = 0
    try:
        while not stop.is_set():
            key = rng.choice(keys)
            path = f"/reg/{key}"
            kind = rng.random()
            seq += 1
            t0 = now()
            if kind < 0.3:
                v = f"{idx}-{seq}"
                op = {"f": "write", "call": t0, "arg": v}
                try:
                    z.set(path, v.encode())
                    op.update(status="ok", ret=now())
                except Exception:
                    op.update(status="info", ret=None)
                rec.add(key, op)
            elif kind < 0.55:
                try:
                    _, st = z.get(path)
                except Exception:
                    continue
                v = f"{idx}-{seq}"
                t0 = now()
                op = {"f": "cas", "call": t0, "arg": (st.version, v)}
                try:
                    z.set(path, v.encode(), version=st.version)
                    op.update(status="ok", ret=now())
                except BadVersionError:
                    op.update(status="fail", ret=now())
                except Exception:
                    op.update(status="info", ret=None)
                rec.add(key, op)
            elif kind < 0.9:
                op = {"f": "read", "call": t0}
                try:
                    z.sync(path)
                    data, st = z.get(path)
                    op.update(status="ok", ret=now(), result=(data.decode(), st.version))
                except Exception:
                    op.update(status="info", ret=None)
                rec.add(key, op)
            else:
                try:
                    p = z.create("/seq/item-", f"{idx}-{seq}".encode(), sequence=True)
                    with rec.lock:
                        rec.appends_acked.append(p)
                except Exception:
                    pass
            time.sleep(pace)
    finally:
        try:
            z.stop()
            z.close()
        except Exception:
            pass


def nemesis(ens, rng, stop, faults, log):
    n = len(ens.nodes)
    minority = (n - 1) // 2
    while not stop.is_set():
        stop.wait(rng.uniform(1.5, 4.0))
        if stop.is_set():
            break
        k = rng.randint(1, max(1, minority))
        leader = ens.leader()
        leader = leader.sid if leader else None
        pool = list(range(1, n + 1))
        victims = set()
        if leader and rng.random() < 0.5:
            victims.add(leader)
        while len(victims) < k:
            victims.add(rng.choice(pool))
        kind = rng.choice(["kill", "pause", "partition"] if ens.net else ["kill", "pause"])
        if kind == "partition":
            rest = [i for i in pool if i not in victims]
            ens.net.partition(sorted(victims), rest)
            faults["partition"] = faults.get("partition", 0) + 1
            if leader in victims:
                faults["partition-leader"] = faults.get("partition-leader", 0) + 1
            log.append(f"{time.strftime('%H:%M:%S')} partition {sorted(victims)} | {rest}{' (leader ' + str(leader) + ' cut off)' if leader in victims else ''}")
            stop.wait(rng.uniform(1.0, 4.0))
            ens.net.heal()
            continue
        for v in sorted(victims):
            if kind == "kill":
                ens.node(v).kill9()
            elif ens.node(v).running():
                ens.node(v).pause()
            faults[kind] = faults.get(kind, 0) + 1
            if v == leader:
                faults[f"{kind}-leader"] = faults.get(f"{kind}-leader", 0) + 1
        log.append(f"{time.strftime('%H:%M:%S')} {kind} {sorted(victims)}{' (leader ' + str(leader) + ')' if leader in victims else ''}")
        stop.wait(rng.uniform(0.5, 3.0))
        for v in sorted(victims):
            if kind == "kill":
                ens.node(v).start()
            else:
                ens.node(v).resume()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--keys", type=int, default=8)
    ap.add_argument("--pace", type=float, default=0.03, help="pause between a client's operations (s)")
    ap.add_argument("--fault", choices=["stale-sync", "slow-follower"],
                    help="test-only server faults: stale-sync breaks sync (must be caught); "
                         "slow-follower only makes followers lag (must stay linearizable)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--net", choices=["auto", "netns", "loopback"], default="auto",
                    help="netns: each node in its own network namespace, with real partitions (root); "
                         "loopback: kills and pauses only; auto: netns when possible")
    ap.add_argument("--keep", action="store_true", help="keep the node directories")
    a = ap.parse_args()
    if not 1 <= a.seconds <= 3600:
        ap.error("--seconds must be between 1 and 3600")
    rng = random.Random(a.seed)
    root = tempfile.mkdtemp(prefix="zk-reliability-")
    env = {"ZKSERVER_UNSAFE_FAULT": a.fault} if a.fault else None
    net = None
    if a.net != "loopback":
        ok, why = netns.available()
        if ok:
            net = netns.Network(a.nodes).up()
        elif a.net == "netns":
            ap.error(f"--net netns: {why}")
        else:
            print(f"NOTE: no real partitions in this run ({why}); faults are kill -9 and pauses on loopback", flush=True)
    ens = Ensemble("zkserver", root, voters=a.nodes, tick_time=500, extra_cfg={"standaloneEnabled": "false"},
                   env=env, net=net)
    rec, faults, log = Recorder(), {}, []
    keys = [f"k{i}" for i in range(a.keys)]
    started = time.time()
    anomalies = []
    try:
        ens.start()
        ens.wait_stable(timeout=30)
        setup = client(ens.hosts)
        setup.ensure_path("/seq")
        for k in keys:
            setup.create(f"/reg/{k}", b"0", makepath=True)
        setup.stop()
        stop = threading.Event()
        threads = []
        for i in range(a.clients):
            order = list(range(1, a.nodes + 1))
            rot = order[i % a.nodes:] + order[:i % a.nodes]
            threads.append(threading.Thread(target=worker, args=(i, ens.connect_string(rot), keys, rec, stop, a.seed, a.pace), daemon=True))
        nem = threading.Thread(target=nemesis, args=(ens, rng, stop, faults, log), daemon=True)
        for t in threads:
            t.start()
        nem.start()
        time.sleep(a.seconds)
        stop.set()
        nem.join(timeout=30)
        for t in threads:
            t.join(timeout=60)
        # Heal: everything up, then final reads and a digest comparison.
        for node in ens.nodes:
            if node.running():
                node.resume()
            else:
                node.start()
        ens.wait_stable(timeout=60)
        final = client(ens.hosts)
        for k in keys:
            t0 = now()
            final.sync(f"/reg/{k}")
            data, st = final.get(f"/reg/{k}")
            rec.add(k, {"f": "read", "call": t0, "ret": now(), "status": "ok", "result": (data.decode(), st.version)})
        present = set(final.get_children("/seq"))
        lost = [p for p in rec.appends_acked if p.rsplit("/", 1)[1] not in present]
        final.create("/barrier", b"")
        final.sync("/")
        final.stop()
        time.sleep(0.5)
        digests = {}
        for i in range(1, a.nodes + 1):
            m = ens.node(i).mntr()
            digests[i] = (m.get("zk_digest"), m.get("zk_znode_count"))
        if len(set(digests.values())) != 1:
            anomalies.append(f"replicas differ after healing: {digests}")
        if lost:
            anomalies.append(f"{len(lost)} acknowledged appends lost, e.g. {lost[:3]}")
        verdicts = {}
        for k in keys:
            ops = [op for kk, op in rec.ops if kk == k]
            ok, detail = linearizability.check(ops, ("0", 0))
            verdicts[k] = (ok, detail)
            if ok is False:
                anomalies.append(f"/reg/{k}: {detail}")
    finally:
        if a.keep:
            for node in ens.nodes:
                node.leave_running()
        else:
            ens.close()
        if net:
            net.down()
    gave_up = [k for k, (ok, _) in verdicts.items() if ok is None]
    total = sum(rec.counts.values())
    summary = {
        "seed": a.seed, "seconds": a.seconds, "nodes": a.nodes, "fault": a.fault,
        "operations": total, "by_outcome": dict(sorted(rec.counts.items())),
        "appends_acked": len(rec.appends_acked), "acked_writes_lost": len(lost),
        "faults": dict(sorted(faults.items())), "anomalies": len(anomalies),
        "checker": "linearizable" if not anomalies and not gave_up else ("NOT linearizable" if anomalies else "unknown"),
        "wall_seconds": round(time.time() - started, 1),
    }
    print(f"reliability run: seed {a.seed}, {a.nodes} nodes, {a.seconds:.0f} s, "
          f"{'network namespaces with partitions' if net else 'loopback'}{' (fault: ' + a.fault + ')' if a.fault else ''}")
    print(f"  operations: {total}  " + "  ".join(f"{k}={v}" for k, v in sorted(rec.counts.items())))
    print(f"  unique appends acknowledged: {len(rec.appends_acked)}, lost: {len(lost)}")
    print(f"  faults injected: " + (", ".join(f"{k}={v}" for k, v in sorted(faults.items())) or "none"))
    for line in log[-6:]:
        print(f"    {line}")
    for k, (ok, detail) in sorted(verdicts.items()):
        print(f"  /reg/{k}: {detail}")
    print(f"  anomalies found: {len(anomalies)}")
    for an in anomalies[:10]:
        print(f"    {an}")
    print(f"  checker verdict: {summary['checker']}")
    if a.json:
        print(json.dumps(summary))
    return 0 if not anomalies and not gave_up else 1


if __name__ == "__main__":
    sys.exit(main())
