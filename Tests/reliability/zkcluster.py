"""Starts and stops a zkserver ensemble on 127.0.0.1 for tests: free ports, one directory per node,
processes ended by PID only."""
import os
import signal
import subprocess
import time

from zktest import runas
from zktest.binaries import zkserver
from zktest.ports import free_ports
from zktest.words import mntr, mode


class Ensemble:
    """`count` members plus `spare` reserved slots (for joiners); extra zoo.cfg lines in `extra`.
    With `net` (a netns.Network), node i runs in its own network namespace at its own address."""

    def __init__(self, root, count, extra="", spare=0, env=None, tick_ms=1000, net=None):
        self.root, self.count, self.extra, self.env, self.tick_ms, self.net = root, count, extra, env, tick_ms, net
        self.procs, self.ports = {}, {}
        for i in range(1, count + spare + 1):
            self.ports[i] = tuple(free_ports(3))

    def host(self, i):
        return self.net.address(i) if self.net else "127.0.0.1"

    def spec(self, i, role="participant"):
        c, q, e = self.ports[i]
        h = self.host(i)
        return f"server.{i}={h}:{q}:{e}:{role};{h}:{c}"

    def client_port(self, i):
        return self.ports[i][0]

    def mode(self, i):
        return mode(self.client_port(i), host=self.host(i), timeout=1.0)

    def mntr(self, i):
        return mntr(self.client_port(i), host=self.host(i), timeout=1.0)

    def hosts(self, ids=None):
        return ",".join(f"{self.host(i)}:{self.client_port(i)}" for i in (ids or range(1, self.count + 1)))

    def write_config(self, i, members):
        d = os.path.join(self.root, f"s{i}")
        os.makedirs(os.path.join(d, "data"), exist_ok=True)
        with open(os.path.join(d, "data", "myid"), "w") as f:
            f.write(f"{i}\n")
        with open(os.path.join(d, "zoo.cfg"), "w") as f:
            f.write(f"tickTime={self.tick_ms}\ninitLimit=10\nsyncLimit=5\ndataDir={d}/data\n"
                    f"4lw.commands.whitelist=*\nstandaloneEnabled=false\n{self.extra}\n")
            for m in members:
                f.write(self.spec(m) + "\n")
        return d

    def start(self, i, members=None):
        d = self.write_config(i, members or range(1, self.count + 1))
        log = open(os.path.join(d, "server.log"), "a")
        env = dict(os.environ, **(self.env or {}))
        runas.give(d)
        argv = runas.command([str(zkserver()), os.path.join(d, "zoo.cfg")])
        if self.net:
            argv = self.net.command(i, argv)   # `ip netns exec` execs the server: the pid is the server's
        self.procs[i] = subprocess.Popen(argv, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

    def start_all(self):
        for i in range(1, self.count + 1):
            self.start(i)

    def alive(self, i):
        p = self.procs.get(i)
        return p is not None and p.poll() is None

    def kill9(self, i):
        if self.alive(i):
            self.procs[i].send_signal(signal.SIGKILL)
            self.procs[i].wait(timeout=10)

    def pause(self, i):
        if self.alive(i):
            self.procs[i].send_signal(signal.SIGSTOP)

    def resume(self, i):
        if self.alive(i):
            self.procs[i].send_signal(signal.SIGCONT)

    def restart(self, i):
        self.kill9(i)
        self.start(i)

    def leader(self):
        for i in range(1, self.count + 1):
            if self.alive(i) and self.mode(i) == "leader":
                return i
        return None

    def wait_serving(self, ids=None, timeout=30):
        ids = list(ids or range(1, self.count + 1))
        deadline = time.time() + timeout
        modes = []
        while time.time() < deadline:
            modes = [self.mode(i) for i in ids]
            if all(modes) and modes.count("leader") == 1:
                for i in ids:
                    runas.assert_unprivileged(self.procs[i].pid)
                return modes
            time.sleep(0.1)
        raise AssertionError(f"ensemble not serving within {timeout}s: {dict(zip(ids, modes))}")

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
