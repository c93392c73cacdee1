"""The alert rules and the dashboard `zkctl generate` writes, which carry Apache ZooKeeper's published
example alerts unchanged, work on a zkserver ensemble: `promtool check rules` and `promtool test rules`
pass; a real Prometheus (Debian's `prometheus`) scrapes a 3-node cluster from `zkctl up` with the rules
loaded; every rule evaluates, none fires on the healthy ensemble (but the election alert, which the
start-up election fires by design), and every dashboard query and every name Apache's rules and the
usual dashboard panels read returns data for the three servers."""
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

from zktest import binaries
from zktest.binaries import server_kind
from zktest.local_cluster import zkctl_cluster

pytestmark = pytest.mark.skipif(server_kind() != "zkserver",
                                reason="zkctl's bundled engine (zkserver) serves the metrics")

NAME = "promrules"

# Apache ZooKeeper's example alerts (its monitoring guide): zkctl's generated rules must carry them unchanged.
APACHE_EXPRS = [
    "up == 0", "znode_count > 1000000", "num_alive_connections > 50", "approximate_data_size /1024 /1024 > 1 * 1024",
    "watch_count > 10000", "increase(election_time_count[5m]) > 0", "open_file_descriptor_count > 300",
    "rate(fsynctime_sum[1m]) > 100", "rate(snapshottime_sum[5m]) > 100", "avg_latency > 100",
    'jvm_memory_bytes_used / jvm_memory_bytes_max{area="heap"} > 0.8',
]

# promtool's rule unit test: a server down for 2 minutes fires ZooKeeperServerDown; a leader that counts one
# synced follower of three voters fires ZooKeeperFollowersNotSynced after 5 minutes.
RULE_TESTS = """rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{{job="zk",instance="a:7000"}}'
        values: '1 0 0 0'
      - series: 'quorum_size{{job="zk",instance="b:7000"}}'
        values: '3x10'
      - series: 'synced_followers{{job="zk",instance="b:7000"}}'
        values: '1x10'
    alert_rule_test:
      - eval_time: 3m
        alertname: ZooKeeperServerDown
        exp_alerts:
          - exp_labels: {{severity: critical, job: zk, instance: "a:7000"}}
            exp_annotations: {{summary: "a:7000 is down"}}
      - eval_time: 7m
        alertname: ZooKeeperFollowersNotSynced
        exp_alerts:
          - exp_labels: {{severity: warning, job: zk}}
            exp_annotations: {{summary: "zk: 1 voters are not synced with the leader"}}
      - eval_time: 3m
        alertname: ZooKeeperNoLeader
        exp_alerts: []
"""

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


def generated_monitoring(tmp_path):
    """zkctl generate ansible's monitoring files for production-3: (rules path, rule texts, dashboard)."""
    out = tmp_path / "ansible"
    r = subprocess.run([str(binaries.zkctl()), "generate", "ansible", "-i", str(binaries.REPO_ROOT / "inventory/production-3.yaml"),
                        "--home", str(tmp_path / "gen-home"), "-o", str(out)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    rules = out / "monitoring/zookeeper-rules.yml"
    exprs = [l.split("expr: ", 1)[1].strip()[1:-1].replace("''", "'") for l in rules.read_text().splitlines() if "expr: " in l]
    dashboard = json.loads((out / "monitoring/grafana-dashboard.json").read_text())
    return rules, exprs, dashboard


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


def test_generated_rules_and_dashboard_return_data(cluster, tmp_path):
    base = cluster
    rules, exprs, dashboard = generated_monitoring(tmp_path)
    assert [e for e in APACHE_EXPRS if e not in exprs] == [], exprs
    check = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and f"SUCCESS: {len(exprs)} rules found" in check.stdout, check.stdout + check.stderr
    (tmp_path / "rules_test.yml").write_text(RULE_TESTS.format(rules=f"'{rules}'"))
    test = subprocess.run(["promtool", "test", "rules", str(tmp_path / "rules_test.yml")], capture_output=True, text=True,
                          timeout=60)
    assert test.returncode == 0 and "SUCCESS" in test.stdout, test.stdout + test.stderr
    panels = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]

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
                    # Dashboard panels may aggregate (by job: one series; by instance: three).
                    missing += [q for q in panels if not query(port, q)]
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
            loaded = [(rule["query"], rule["health"]) for g in groups for rule in g["rules"]]
            assert len(loaded) == len(exprs) and all(h == "ok" for _, h in loaded), loaded
            # A healthy ensemble fires nothing, not even zkctl's no-leader or not-synced alerts.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=10) as r:
                alerts = json.loads(r.read())["data"]["alerts"]
            assert [a["labels"]["alertname"] for a in alerts if a["labels"]["alertname"] != "ZooKeeperLeaderElection"] == [], alerts
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
