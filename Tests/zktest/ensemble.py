"""Start, probe, fault and stop multi-process ensembles for the ensemble tests.

An ensemble is a set of server processes on 127.0.0.1, each with its own directory holding
zoo.cfg, data/myid and node.log (stdout and stderr of every start, appended). Two engines:
  * "zkserver": this repository's server, `zkserver zoo.cfg`
  * "apache":   Apache ZooKeeper 3.8 from Debian, `java ... QuorumPeerMain zoo.cfg`

Ports are picked at run time (bound to port 0 and released), so parallel runs do not collide.
Processes are only ever signalled through the PID of the Popen object that started them, and
`Ensemble.close()` stops every process this module started.
"""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from .binaries import APACHE_CLASSPATH, APACHE_MAIN, zkserver as zkserver_binary
from .ports import free_ports
from .words import NOT_SERVING, four_letter, parse_mntr, parse_srvr


def wait_for(predicate, timeout, interval=0.1, what="condition"):
    """Poll `predicate` until it returns a truthy value or `timeout` seconds pass (then raise)."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # a probe may fail while servers come and go
            last_exc = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}"
                               + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)


class Node:
    """One ensemble member: its directory, ports, config and process."""

    def __init__(self, ensemble, sid, workdir, client_port, quorum_port, election_port, role):
        self.ensemble = ensemble
        self.sid = sid
        self.workdir = Path(workdir)
        self.client_port = client_port
        self.quorum_port = quorum_port
        self.election_port = election_port
        self.role = role  # "participant" or "observer"
        self.data_dir = self.workdir / "data"
        self.cfg_path = self.workdir / "zoo.cfg"
        self.log_path = self.workdir / "node.log"
        self.extra_cfg = {}
        self.myid_override = None
        self.proc = None
        self.starts = 0
        self.stopped_by_signal = False

    @property
    def kind(self):
        return self.ensemble.kind

    @property
    def hosts(self):
        return f"127.0.0.1:{self.client_port}"

    def server_line(self):
        return (f"server.{self.sid}=127.0.0.1:{self.quorum_port}:{self.election_port}:"
                f"{self.role};127.0.0.1:{self.client_port}")

    def config_text(self):
        cfg = {
            "tickTime": str(self.ensemble.tick_time),
            "initLimit": str(self.ensemble.init_limit),
            "syncLimit": str(self.ensemble.sync_limit),
            "dataDir": str(self.data_dir),
            "4lw.commands.whitelist": "*",
            "maxClientCnxns": "200",
        }
        if self.kind == "apache":
            cfg["admin.enableServer"] = "false"
        cfg.update(self.ensemble.extra_cfg)
        cfg.update(self.extra_cfg)
        lines = [f"{k}={v}" for k, v in cfg.items() if v is not None]
        lines += [n.server_line() for n in self.ensemble.nodes]
        return "\n".join(lines) + "\n"

    def write_files(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cfg_path.write_text(self.config_text())
        myid = self.sid if self.myid_override is None else self.myid_override
        (self.data_dir / "myid").write_text(f"{myid}\n")

    def command(self):
        if self.kind == "apache":
            return ["java", "-Xmx256m", "-XX:+UseSerialGC",
                    f"-Dzookeeper.log.dir={self.workdir}",
                    "-Dzookeeper.root.logger=INFO,CONSOLE",
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                    "-Dorg.slf4j.simpleLogger.showDateTime=true",
                    "-cp", APACHE_CLASSPATH, APACHE_MAIN, str(self.cfg_path)]
        binary = zkserver_binary()
        if not binary.is_file():
            raise RuntimeError(f"zkserver binary not found at {binary}: run "
                               "`swift build --product zkserver` first or set ZKSERVER_BIN")
        return [str(binary), str(self.cfg_path)]

    def start(self):
        assert not self.running(), f"server {self.sid} already running"
        self.write_files()
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts} at {time.strftime('%H:%M:%S')}: "
                      f"{' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(), cwd=self.workdir,
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.ensemble.started_pids.append(self.proc.pid)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.running():
            self.cont()
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def sigstop(self):
        assert self.running()
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.stopped_by_signal = True

    def cont(self):
        if self.running() and self.stopped_by_signal:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.stopped_by_signal = False

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after `timeout`. Returns the exit status of a process that was
        running (None if it was not), negative for a signal."""
        if not self.running():
            return None
        self.cont()
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            return "killed after SIGTERM timeout"

    # probes
    def four(self, cmd, timeout=2.0):
        return four_letter(self.client_port, cmd, timeout=timeout).decode(errors="replace")

    def srvr(self):
        """Parsed srvr output, {} if the member is down, or {'serving': False} when it answers
        that it is not serving."""
        try:
            text = self.four("srvr")
        except OSError:
            return {}
        if NOT_SERVING in text:
            return {"serving": False}
        out = parse_srvr(text)
        if "Mode" in out:
            out["serving"] = True
        return out

    def mode(self):
        return self.srvr().get("Mode")

    def zxid(self):
        z = self.srvr().get("Zxid")
        return int(z, 16) if z else None

    def mntr(self):
        try:
            return parse_mntr(self.four("mntr"))
        except OSError:
            return {}

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log_text().splitlines()[-n:])


class Ensemble:
    """`voters` participants plus `observers` observers of one engine, in `base_dir`."""

    def __init__(self, kind, base_dir, voters=3, observers=0, tick_time=1000, init_limit=10,
                 sync_limit=5, extra_cfg=None):
        self.kind = kind
        self.base_dir = Path(base_dir)
        self.tick_time = tick_time
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        self.extra_cfg = dict(extra_cfg or {})
        self.started_pids = []
        self.nodes = []
        self.extra_nodes = []  # processes started outside the member list (bad-input tests)
        total = voters + observers
        ports = free_ports(3 * total)
        for i in range(total):
            sid = i + 1
            role = "participant" if i < voters else "observer"
            self.nodes.append(Node(self, sid, self.base_dir / f"s{sid}", ports[3 * i],
                                   ports[3 * i + 1], ports[3 * i + 2], role))

    def node(self, sid):
        return next(n for n in self.nodes if n.sid == sid)

    @property
    def hosts(self):
        return ",".join(n.hosts for n in self.nodes)

    def start(self):
        for n in self.nodes:
            n.start()
        return self

    def close(self):
        """Stop every process; returns [(server id, log path, status)] of those that did not
        exit cleanly (status 0) on SIGTERM."""
        unclean = []
        for n in self.nodes + self.extra_nodes:
            try:
                rc = n.stop(timeout=5.0)
            except Exception as exc:
                rc = repr(exc)
            if rc not in (None, 0) and n.kind == "zkserver":
                unclean.append((n.sid, str(n.log_path), rc))
            elif n.kind == "apache" and rc not in (None, 0, 143):
                unclean.append((n.sid, str(n.log_path), rc))
        return unclean

    def running(self):
        return [n for n in self.nodes if n.running()]

    def modes(self, nodes=None):
        return {n.sid: n.mode() for n in (nodes or self.running())}

    def leader(self):
        for n in self.running():
            if n.mode() == "leader":
                return n
        return None

    def stable(self, nodes=None):
        """The leader if every given member (default: all running) serves in the mode its role
        implies, with exactly one leader; else None."""
        nodes = nodes or self.running()
        modes = self.modes(nodes)
        leaders = [sid for sid, m in modes.items() if m == "leader"]
        if len(leaders) != 1:
            return None
        for n in nodes:
            want = {"observer"} if n.role == "observer" else {"leader", "follower"}
            if modes[n.sid] not in want:
                return None
        return self.node(leaders[0])

    def wait_stable(self, timeout=60.0, nodes=None):
        try:
            return wait_for(lambda: self.stable(nodes), timeout, interval=0.1,
                            what="one leader and the rest following/observing")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; modes {self.modes(nodes)}\n{self.tails()}") from None

    def converged(self, nodes=None):
        """(zxid, digest) if every given member reports the same zxid and zk_digest."""
        seen = set()
        for n in nodes or self.running():
            z = n.zxid()
            m = n.mntr()
            # Apache's mntr has no digest: the znode count is the (weaker) stand-in there
            d = m.get("zk_digest") or (m.get("zk_znode_count") and "znodes=" + m["zk_znode_count"])
            if z is None or d is None:
                return None
            seen.add((z, d))
        return seen.pop() if len(seen) == 1 else None

    def state_table(self, nodes=None):
        rows = []
        for n in nodes or self.nodes:
            m = n.mntr()
            rows.append(f"server {n.sid}: mode={n.mode()} zxid={n.zxid()} "
                        f"digest={m.get('zk_digest')} znodes={m.get('zk_znode_count')}")
        return "\n".join(rows)

    def tails(self, n=15):
        return "\n".join(f"--- server {x.sid} ({x.log_path}):\n{x.log_tail(n)}"
                         for x in self.nodes + self.extra_nodes)


def grep_log(node, pattern):
    """Lines of a node's log matching a regular expression."""
    rx = re.compile(pattern)
    return [line for line in node.log_text().splitlines() if rx.search(line)]
