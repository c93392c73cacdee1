"""Apache ZooKeeper's published alert rules and the metric names its dashboards use work unchanged on a
zkserver ensemble: a real Prometheus (Debian's `prometheus`) scrapes a 3-node cluster from `zkctl up`,
loads the rules (`promtool check rules` first), and every rule's expression, and every name the rules and
the usual dashboard panels read, returns data for each of the three servers."""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from kazoo.client import KazooClient

from zktest.binaries import server_kind
from zktest.local_cluster import zkctl_cluster

pytestmark = pytest.mark.skipif(server_kind() != "zkserver",
                                reason="zkctl's bundled engine (zkserver) serves the metrics")

NAME = "promrules"

# The alert rules of Apache ZooKeeper's monitoring guide (3.8/3.9): name -> expression.
APACHE_RULES = {
    "ZooKeeperServerDown": "up == 0",
    "CreateTooManyZnodes": "znode_count > 1000000",
    "CreateTooManyConnections": "num_alive_connections > 50",
    "ZnodeTotalOccupiedMemoryTooBig": "approximate_data_size /1024 /1024 > 1 * 1024",
    "SetTooManyWatch": "watch_count > 10000",
    "LeaderElectionHappens": "increase(election_time_count[5m]) > 0",
    "OpenTooManyFiles": "open_file_descriptor_count > 300",
    "FsyncTimeTooLong": "rate(fsynctime_sum[1m]) > 100",
    "TakeSnapshotTimeTooLong": "rate(snapshottime_sum[5m]) > 100",
    "AvgLatencyTooHigh": "avg_latency > 100",
    "JvmMemoryFillingUp": 'jvm_memory_bytes_used / jvm_memory_bytes_max{area="heap"} > 0.8',
}

# What the rules compare, without the threshold, and names the common dashboards plot.
QUERIES = [
    "up", "znode_count", "num_alive_connections", "approximate_data_size /1024 /1024", "watch_count",
    "increase(election_time_count[5m])", "open_file_descriptor_count", "rate(fsynctime_sum[1m])",
    "rate(snapshottime_sum[5m])", "avg_latency", 'jvm_memory_bytes_used / jvm_memory_bytes_max{area="heap"}',
    "outstanding_requests", "ephemerals_count", "global_sessions", "packets_received", "packets_sent",
    "min_latency", "max_latency", "uptime", 'readlatency{quantile="0.5"}', 'updatelatency{quantile="0.99"}',
    "rate(updatelatency_count[1m])", "fsynctime_count", "election_time_count", "snap_count", "quorum_size",
    "max_file_descriptor_count", "process_cpu_seconds_total", "process_resident_memory_bytes", "jvm_threads_current",
]


def rules_yaml():
    lines = ["groups:", "  - name: zookeeper-apache-examples", "    rules:"]
    for name, expr in APACHE_RULES.items():
        lines += [f"      - alert: {name}", f"        expr: '{expr}'", "        for: 1m",
                  "        labels:", "          severity: warning",
                  "        annotations:", "          summary: '{{ $labels.instance }}: {{ $value }}'"]
    return "\n".join(lines) + "\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    if not shutil.which("prometheus") or not shutil.which("promtool"):
        if os.environ.get("CI"):
            pytest.fail("prometheus/promtool not installed (Debian package prometheus); .ci/run installs it")
        pytest.skip("prometheus not installed (apt-get install prometheus)")
    with zkctl_cluster(tmp_path, NAME) as (_, base):
        yield base


def query(port, expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_apache_alert_rules_and_dashboard_names_return_data(cluster, tmp_path):
    base = cluster
    rules = tmp_path / "zookeeper-rules.yml"
    rules.write_text(rules_yaml())
    check = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and f"SUCCESS: {len(APACHE_RULES)} rules found" in check.stdout, check.stdout + check.stderr

    targets = [f"127.0.0.1:{base + 400 + i}" for i in range(3)]
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: ['{rules}']\n"
        "scrape_configs:\n  - job_name: zookeeper\n    static_configs:\n"
        f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")
    port = free_port()
    log = open(tmp_path / "prometheus.log", "w")
    prom = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        zk = KazooClient(hosts=",".join(f"127.0.0.1:{base + i}" for i in range(3)), timeout=10)
        zk.start(timeout=30)
        try:
            zk.ensure_path("/prom")
            for i in range(200):
                zk.create(f"/prom/n{i}", b"x" * 100, ephemeral=(i % 4 == 0))
            zk.get("/prom/n1", watch=lambda e: None)
            # A few scrapes after the writes, so rates and increases have two samples.
            deadline, missing = time.monotonic() + 60, QUERIES
            while time.monotonic() < deadline:
                time.sleep(2)
                try:
                    missing = [q for q in QUERIES if len(query(port, q)) != 3]
                except OSError:
                    continue
                if not missing:
                    break
            assert not missing, f"no data for each of the 3 servers: {missing}\n" + \
                (tmp_path / "prometheus.log").read_text()[-2000:]
            assert [r["value"][1] for r in query(port, "up")] == ["1", "1", "1"]
            assert all(float(r["value"][1]) >= 200 for r in query(port, "znode_count"))
            assert all(float(r["value"][1]) >= 1 for r in query(port, "election_time_count"))
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/rules", timeout=10) as r:
                groups = json.loads(r.read())["data"]["groups"]
            loaded = {rule["name"]: rule["health"] for g in groups for rule in g["rules"]}
            assert loaded == {name: "ok" for name in APACHE_RULES}, loaded
        finally:
            zk.stop()
            zk.close()
    finally:
        prom.terminate()  # the Prometheus this test started, by its PID
        try:
            prom.wait(timeout=20)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait(timeout=10)
        log.close()
