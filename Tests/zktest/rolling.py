"""Runs zkctl rolling operations against real ensembles under client load (load.Load)."""
import json
import os
import shutil
import subprocess
import tempfile
import time

from . import binaries, runas
from .load import Load
from .ports import free_base


class Cluster:
    def __init__(self, engine="bundled", nodes=3, name="roll"):
        self.engine = engine
        self.name = name
        self.home = tempfile.mkdtemp(prefix="zkctl-rolling-")
        self.base = free_base(count=8)
        self.nodes = nodes
        self.env = dict(os.environ, ZKCTL_HOME=self.home, ZKCTL_ZKSERVER=str(binaries.zkserver()))
        self.env.pop("ZKCTL_CLUSTER", None)

    def hosts(self, count=8):
        return ",".join(f"127.0.0.1:{self.base + i}" for i in range(count))

    def zkctl(self, *args, timeout=300, check=True):
        # A root test process runs zkctl (and so the servers) as ZK_RUN_AS, as users run it.
        runas.give(self.home)
        p = subprocess.run(runas.command([str(binaries.zkctl()), *args, "--name", self.name]), env=self.env,
                           cwd=self.home, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"zkctl {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p

    def up(self):
        try:
            return self.zkctl("up", "-n", str(self.nodes), "--engine", self.engine, "--base-port", str(self.base),
                              "--timeout", "120")
        except BaseException:
            self.down()   # nodes that did start must not outlive a failed test
            raise

    def status(self):
        p = self.zkctl("status", "--output", "json", check=False)
        try:
            return json.loads(p.stdout)
        except ValueError:
            return {"raw": p.stdout + p.stderr, "exit": p.returncode}

    def down(self):
        try:
            self.zkctl("down", "--purge", timeout=120, check=False)
        finally:
            shutil.rmtree(self.home, ignore_errors=True)


def copy_of_zkserver():
    """The same zkserver binary at another path (an 'upgrade' target)."""
    d = tempfile.mkdtemp(prefix="zkserver-next-")
    target = os.path.join(d, "zkserver")
    shutil.copy2(binaries.zkserver(), target)
    runas.give(d)
    return target


def apache_target():
    """An Apache ZooKeeper 'release directory' made of Debian's jars (lib/ with symlinks)."""
    d = tempfile.mkdtemp(prefix="apache-next-")
    os.makedirs(os.path.join(d, "lib"))
    os.makedirs(os.path.join(d, "conf"))
    for jar in os.listdir("/usr/share/java"):
        if jar.endswith(".jar") and any(k in jar for k in ("zookeeper", "slf4j", "log4j", "netty", "jline", "commons", "metrics", "snappy", "audience", "jute")):
            os.symlink(os.path.join("/usr/share/java", jar), os.path.join(d, "lib", jar))
    with open(os.path.join(d, "conf", "log4j.properties"), "w") as f:
        f.write("log4j.rootLogger=INFO, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n"
                "log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n"
                "log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n\n")
    runas.give(d)
    return d


SCENARIOS = {
    "scale 3->5": (3, [["scale", "5"]]),
    "scale 5->3": (5, [["scale", "3", "--purge"]]),
    "scale 3->5 +1 observer": (3, [["scale", "5", "--observers", "1"]]),
    "rolling restart of 3": (3, [["restart", "--rolling"]]),
    "rolling restart of 5": (5, [["restart", "--rolling"]]),
    "upgrade of 3": (3, [["upgrade", "--to", "@TARGET"]]),
    "scale 3->5->3": (3, [["scale", "5"], ["scale", "3", "--purge"]]),
}


def run_scenario(name, engine="bundled", rate=20.0):
    """Brings up a cluster, runs the operations under load, returns the report row."""
    nodes, ops = SCENARIOS[name]
    c = Cluster(engine=engine, nodes=nodes)
    row = {"scenario": name, "engine": engine}
    load = None
    try:
        c.up()
        load = Load(c.hosts(), rate=rate)
        load.start()
        time.sleep(2)
        began = time.monotonic()
        outputs = []
        for op in ops:
            if "@TARGET" in op:
                target = copy_of_zkserver() if engine == "bundled" else apache_target()
                op = [target if a == "@TARGET" else a for a in op]
            p = c.zkctl(*op, "--output", "json", timeout=600, check=False)
            outputs.append(p)
            if p.returncode != 0:
                row["error"] = f"zkctl {' '.join(op)} exited {p.returncode}: {p.stderr.strip()[-400:]}"
                break
        row["op_seconds"] = round(time.monotonic() - began, 1)
        time.sleep(2)
        load.stop()
        row.update(load.verify())
        row["total_seconds"] = round(time.monotonic() - began, 1)
        row["events"] = sum(len([l for l in p.stdout.splitlines() if l.startswith("{")]) for p in outputs)
        st = c.status()
        row["final_health"] = st.get("state", st.get("health", "?")) if isinstance(st, dict) else "?"
    except Exception as e:  # noqa: BLE001
        row["error"] = f"{type(e).__name__}: {e}"
    finally:
        if load:
            load.close()
        c.down()
    return row


def table(rows):
    head = ["scenario", "engine", "acked writes", "lost", "failed ops", "longest no-write window (s)",
            "op time (s)", "total (s)", "ephemeral+watch kept"]
    lines = [" | ".join(head), " | ".join("-" * len(h) for h in head)]
    for r in rows:
        if "lost" not in r:
            lines.append(f"{r['scenario']} | {r['engine']} | ERROR: {r.get('error')}")
            continue
        lines.append(" | ".join(str(x) for x in [
            r["scenario"], r["engine"], r["acked_writes"], r["lost"], r["failed"], r["max_gap"],
            r.get("op_seconds", "-"), r["total_seconds"],
            "yes" if r["session_kept"] else f"NO (ephemeral {r['ephemeral_kept']}, watch {r['watch_kept']})"]))
        if r.get("error"):
            lines.append(f"    error: {r['error']}")
        if r["failures"]:
            lines.append(f"    first failures: {r['failures']}")
    return "\n".join("| " + l + " |" if not l.startswith("    ") else l for l in lines)
