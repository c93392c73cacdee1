"""`zkctl status` shows each bundled node's Prometheus figures (zk_metrics_port): a 3-node cluster
from `zkctl up` on loopback, some writes, and the figures move; a killed node keeps its row."""
import json
import time
import urllib.request

import pytest

from zktest.binaries import server_kind
from zktest.local_cluster import zkctl_cluster
from zktest.words import parse_metrics

pytestmark = pytest.mark.skipif(server_kind() != "zkserver",
                                reason="zkctl's bundled engine (zkserver) serves the metrics")

NAME = "mstatus"


@pytest.fixture
def cluster(tmp_path):
    with zkctl_cluster(tmp_path, NAME) as c:
        yield c


def status_json(zkctl):
    p = zkctl("status", "-c", NAME, "-o", "json")
    assert p.returncode in (0, 3), p.stderr
    return p.returncode, json.loads(p.stdout)


def test_status_shows_metrics_that_move_after_writes(cluster):
    zkctl, base = cluster
    # The generated layout: metrics at P+400+id-1, served by each node.
    for i in range(3):
        with urllib.request.urlopen(f"http://127.0.0.1:{base + 400 + i}/metrics", timeout=10) as r:
            assert ("znode_count", frozenset()) in parse_metrics(r.read().decode())

    rc, before = status_json(zkctl)
    assert rc == 0 and before["state"] == "healthy", before
    assert "metricsNote" not in before
    for n in before["nodes"]:
        m = n["metrics"]
        assert m is not None, n
        assert m["znodes"] >= 1 and m["outstandingRequests"] >= 0 and m["watches"] >= 0 and m["sessions"] >= 0

    from kazoo.client import KazooClient
    c = KazooClient(hosts=before["connectString"], timeout=10.0)
    c.start(timeout=15)
    try:
        c.ensure_path("/mstatus")
        for i in range(50):
            c.create(f"/mstatus/n{i}", b"x" * 100)
        c.get("/mstatus/n1", watch=lambda e: None)
        c.sync("/mstatus")
        deadline = time.monotonic() + 15
        while True:
            rc, after = status_json(zkctl)
            ms = {n["id"]: n["metrics"] for n in after["nodes"]}
            old = {n["id"]: n["metrics"] for n in before["nodes"]}
            if all(ms[i] and ms[i]["znodes"] >= old[i]["znodes"] + 51 for i in ms) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert rc == 0, after
        for i, m in ms.items():
            assert m["znodes"] >= old[i]["znodes"] + 51, (i, old[i], m)
            assert m["sessions"] >= 1, m        # the kazoo session, known to every member
            assert m["fsyncP99Seconds"] is not None and 0 < m["fsyncP99Seconds"] <= 10, m
        assert sum(m["writes"] for m in ms.values()) >= sum(m["writes"] for m in old.values()) + 51
        assert sum(m["watches"] for m in ms.values()) >= 1
        served = [m for m in ms.values() if m["writes"] > 0]
        assert served and all(0 < m["writeP99Seconds"] <= 10 for m in served), ms
    finally:
        c.stop()
        c.close()

    table = zkctl("status", "-c", NAME)
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[1].split()
    assert header[-6:] == ["OUTSTANDING", "ZNODES", "WATCHES", "SESSIONS", "WRITE_P99", "FSYNC_P99"], table.stdout

    # A node that is down keeps its row; its metrics are blank and the command still answers.
    # A follower is killed: killing the leader would start an election, and for that moment
    # the cluster is honestly "down" (exit 4), which is not what this test is about.
    _, now = status_json(zkctl)
    victim = next(n["id"] for n in now["nodes"] if n["role"] == "follower")
    assert zkctl("node", "-c", NAME, str(victim), "kill").returncode == 0
    rc, degraded = status_json(zkctl)
    assert rc == 3, degraded
    down = next(n for n in degraded["nodes"] if n["id"] == victim)
    assert "metrics" not in down and down["metricsProblem"], down
    assert all(n["metrics"] for n in degraded["nodes"] if n["id"] != victim)
    text = zkctl("status", "-c", NAME)
    assert text.returncode == 3
    row = next(line for line in text.stdout.splitlines() if line.startswith(f"{victim} "))
    assert row.split()[-6:] == ["-"] * 6, text.stdout
