"""Start, probe, fault and stop multi-process ensembles: the interop ensemble tests, reconfiguration, and
the reliability runs.

An ensemble is a set of server processes, each with its own directory holding zoo.cfg, data/myid and
node.log (stdout and stderr of every start, appended). Two engines:
  * "zkserver": this repository's server, `zkserver zoo.cfg`
  * "apache":   Apache ZooKeeper 3.8 from Debian, `java ... QuorumPeerMain zoo.cfg`
Members listen on 127.0.0.1, or, with a netns.Network, each in its own network namespace at its own
address. Spare slots reserve ports and a directory for servers that join later by reconfiguration.

Ports are picked at run time, so parallel runs do not collide. Processes are only ever signalled through
the PID of the Popen object that started them; a test process that is root starts them unprivileged
(runas), and a stable ensemble is checked to run without privilege. `Ensemble.close()` stops every
process the ensemble started.
"""
import re
import time
from pathlib import Path

from . import words
from .binaries import server_command
from .ports import free_ports
from .server import ServerProcess


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


class Node(ServerProcess):
    """One ensemble member (or spare slot): its directory, address, ports, config and process."""

    log_name = "node.log"

    def __init__(self, ensemble, sid, workdir, client_port, quorum_port, election_port, role):
        super().__init__(ensemble.kind, workdir, env=ensemble.env)
        self.ensemble = ensemble
        self.sid = sid
        self.client_port = client_port
        self.quorum_port = quorum_port
        self.election_port = election_port
        self.role = role  # "participant" or "observer"
        self.data_dir = self.workdir / "data"
        self.cfg_path = self.workdir / "zoo.cfg"
        self.extra_cfg = {}
        self.myid_override = None
        self.members = None  # sids whose server lines the next start writes (None: the ensemble's)

    @property
    def host(self):
        net = self.ensemble.net
        return net.address(self.sid) if net else "127.0.0.1"

    @property
    def hosts(self):
        return f"{self.host}:{self.client_port}"

    def server_line(self):
        return (f"server.{self.sid}={self.host}:{self.quorum_port}:{self.election_port}:"
                f"{self.role};{self.host}:{self.client_port}")

    def config_text(self):
        ens = self.ensemble
        cfg = {
            "tickTime": str(ens.tick_time),
            "initLimit": str(ens.init_limit),
            "syncLimit": str(ens.sync_limit),
            "dataDir": str(self.data_dir),
            "4lw.commands.whitelist": "*",
            "maxClientCnxns": "200",
        }
        if self.kind == "apache":
            cfg["admin.enableServer"] = "false"
        cfg.update(ens.extra_cfg)
        cfg.update(self.extra_cfg)
        lines = [f"{k}={v}" for k, v in cfg.items() if v is not None]
        members = ens.nodes if self.members is None else [ens.node(sid) for sid in self.members]
        lines += [n.server_line() for n in members]
        return "\n".join(lines) + "\n"

    def write_files(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cfg_path.write_text(self.config_text())
        myid = self.sid if self.myid_override is None else self.myid_override
        (self.data_dir / "myid").write_text(f"{myid}\n")

    def command(self):
        return server_command(self.kind, self.cfg_path, self.workdir, heap="256m",
                              properties=("zookeeper.root.logger=INFO,CONSOLE",
                                          "org.slf4j.simpleLogger.defaultLogLevel=info",
                                          "org.slf4j.simpleLogger.showDateTime=true"))

    def wrap(self, argv):
        # `ip netns exec` execs the server: the PID is still the server's
        net = self.ensemble.net
        return net.command(self.sid, argv) if net else argv

    def start(self, members=None):
        """Starts the server (without waiting). `members`: the sids whose server lines its zoo.cfg holds
        from now on (a joiner knows the current members and itself); default the ensemble's members."""
        if members is not None:
            self.members = list(members)
        return self.spawn()

    def restart(self):
        """kill -9, then start again on the same directory."""
        self.kill9()
        return self.start()

    # probes
    def four(self, cmd, timeout=2.0):
        return words.four_letter(self.client_port, cmd, timeout=timeout, host=self.host).decode(errors="replace")

    def srvr(self):
        """Parsed srvr output, {} if the member is down, or {'serving': False} when it answers
        that it is not serving."""
        return words.srvr(self.client_port, self.host)

    def mode(self):
        return self.srvr().get("Mode")

    def zxid(self):
        z = self.srvr().get("Zxid")
        return int(z, 16) if z else None

    def mntr(self):
        return words.mntr(self.client_port, self.host)

    def log_tail(self, n=30):
        return super().log_tail(n)


class Ensemble:
    """`voters` participants plus `observers` observers of one engine, in `base_dir`, and `spare` slots
    (sids after the members') for servers that join later. `extra_cfg`: zoo.cfg keys for every member;
    `env`: environment variables for the servers; `net`: a netns.Network to run each member in."""

    def __init__(self, kind, base_dir, voters=3, observers=0, spare=0, tick_time=1000, init_limit=10,
                 sync_limit=5, extra_cfg=None, env=None, net=None):
        self.kind = kind
        self.base_dir = Path(base_dir)
        self.tick_time = tick_time
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        self.extra_cfg = dict(extra_cfg or {})
        self.env = dict(env or {})
        self.net = net
        self.nodes = []
        self.spares = []
        self.extra_nodes = []  # processes started outside the member list (bad-input tests)
        members = voters + observers
        ports = free_ports(3 * (members + spare))
        for i in range(members + spare):
            sid = i + 1
            role = "participant" if i < voters or i >= members else "observer"
            node = Node(self, sid, self.base_dir / f"s{sid}", ports[3 * i], ports[3 * i + 1], ports[3 * i + 2], role)
            (self.nodes if i < members else self.spares).append(node)

    def node(self, sid):
        return next(n for n in self.nodes + self.spares if n.sid == sid)

    @property
    def hosts(self):
        """The connect string of every member."""
        return self.connect_string()

    def connect_string(self, sids=None):
        """The connect string of the given members (sids, in that order), default every member."""
        nodes = self.nodes if sids is None else [self.node(sid) for sid in sids]
        return ",".join(n.hosts for n in nodes)

    def start(self):
        for n in self.nodes:
            n.start()
        return self

    def close(self, timeout=10.0):
        """Stops every process (SIGTERM to all, then waits, SIGKILL after `timeout`); returns
        [(server id, log path, status)] of those that did not exit cleanly on SIGTERM."""
        everyone = self.nodes + self.spares + self.extra_nodes
        running = [n for n in everyone if n.running()]
        for n in running:
            n.terminate()
        unclean = []
        for n in running:
            try:
                rc = n.wait_stopped(timeout)
            except Exception as exc:
                rc = repr(exc)
            if rc not in ((0, 143) if n.kind == "apache" else (0,)):  # the JVM exits 143 on SIGTERM
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
        """Waits until `stable(nodes)`; returns the leader, after checking that every given member runs
        without privilege. On a timeout the error holds the modes and the log tails."""
        try:
            leader = wait_for(lambda: self.stable(nodes), timeout, interval=0.1,
                              what="one leader and the rest following/observing")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; modes {self.modes(nodes)}\n{self.tails()}") from None
        for n in nodes or self.running():
            n.assert_unprivileged()
        return leader

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
                         for x in self.nodes + [s for s in self.spares if s.starts] + self.extra_nodes)


def grep_log(node, pattern):
    """Lines of a node's log matching a regular expression."""
    rx = re.compile(pattern)
    return [line for line in node.log_text().splitlines() if rx.search(line)]
