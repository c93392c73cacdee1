"""Dynamic reconfiguration on a real zkserver ensemble (127.0.0.1, free ports, processes ended by PID).

Adds a voter, removes one (the leader included), and checks the refusals: no authority, a stale
config version, a change of two voters at once, and reconfig while disabled."""
import os
import signal
import socket
import subprocess
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (BadArgumentsError, BadVersionError, NewConfigNoQuorumError, NoAuthError,
                               ReconfigDisabledError, ZookeeperError)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("ZKSERVER_BIN", os.path.join(REPO, ".build/debug/zkserver"))
SUPER = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="   # digest of super:test


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def four(port, word):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(word.encode())
            out = b""
            while True:
                d = s.recv(4096)
                if not d:
                    return out.decode()
                out += d
    except OSError:
        return ""


def mode(port):
    for line in four(port, "srvr").splitlines():
        if line.startswith("Mode:"):
            return line.split()[1]
    return None


class Ensemble:
    def __init__(self, root, count, extra):
        self.root, self.procs, self.ports = root, {}, {}
        for i in range(1, count + 2):   # one spare slot for a joiner
            c, q, e = free_ports(3)
            self.ports[i] = (c, q, e)
        self.count, self.extra = count, extra

    def spec(self, i, role="participant"):
        c, q, e = self.ports[i]
        return f"server.{i}=127.0.0.1:{q}:{e}:{role};127.0.0.1:{c}"

    def start(self, i, members):
        d = os.path.join(self.root, f"s{i}")
        os.makedirs(os.path.join(d, "data"), exist_ok=True)
        with open(os.path.join(d, "data", "myid"), "w") as f:
            f.write(f"{i}\n")
        with open(os.path.join(d, "zoo.cfg"), "w") as f:
            f.write(f"tickTime=1000\ninitLimit=10\nsyncLimit=5\ndataDir={d}/data\n4lw.commands.whitelist=*\n"
                    f"standaloneEnabled=false\nDigestAuthenticationProvider.superDigest={SUPER}\n{self.extra}\n")
            for m in members:
                f.write(self.spec(m) + "\n")
        log = open(os.path.join(d, "server.log"), "a")
        self.procs[i] = subprocess.Popen([BIN, os.path.join(d, "zoo.cfg")], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def client_port(self, i):
        return self.ports[i][0]

    def hosts(self, ids):
        return ",".join(f"127.0.0.1:{self.client_port(i)}" for i in ids)

    def wait_serving(self, ids, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            modes = [mode(self.client_port(i)) for i in ids]
            if all(modes) and modes.count("leader") == 1:
                return modes
            time.sleep(0.1)
        raise AssertionError(f"not serving within {timeout}s: {[mode(self.client_port(i)) for i in ids]}")

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture
def ensemble(tmp_path):
    made = []

    def make(count=3, extra="reconfigEnabled=true"):
        e = Ensemble(str(tmp_path), count, extra)
        for i in range(1, count + 1):
            e.start(i, range(1, count + 1))
        e.wait_serving(range(1, count + 1))
        made.append(e)
        return e
    yield make
    for e in made:
        e.stop()


def client(hosts, auth=True):
    z = KazooClient(hosts=hosts, timeout=10)
    z.start(timeout=10)
    if auth:
        z.add_auth("digest", "super:test")
    return z


def test_add_a_voter_then_remove_members_including_the_leader(ensemble):
    e = ensemble(3)
    e.start(4, [1, 2, 3, 4])   # a joiner knows the current members and itself
    z = client(e.hosts([1, 2, 3]))
    try:
        z.create("/before", b"1")
        data, _ = z.reconfig(joining=e.spec(4), leaving=None, new_members=None)
        text = data.decode()
        assert e.spec(4) in text and text.splitlines()[-1].startswith("version=")
        modes = e.wait_serving([1, 2, 3, 4])
        assert sorted(modes) == ["follower", "follower", "follower", "leader"]
        z4 = client(e.hosts([4]), auth=False)
        z4.sync("/")
        assert z4.exists("/before") is not None   # the joiner caught up
        z4.stop()
        leader = [i for i in (1, 2, 3, 4) if mode(e.client_port(i)) == "leader"][0]
        for attempt in range(50):
            try:
                data, _ = z.reconfig(joining=None, leaving=str(leader), new_members=None)
                break
            except ZookeeperError:
                time.sleep(0.2)   # connection moved during the leader hand-off
        assert f"server.{leader}=" not in data.decode()
        rest = [i for i in (1, 2, 3, 4) if i != leader]
        modes = e.wait_serving(rest)
        assert modes.count("leader") == 1
        assert mode(e.client_port(leader)) is None   # removed: no longer serving
        digests = {four(e.client_port(i), "mntr").split("zk_digest\t")[1].split()[0] for i in rest}
        assert len(digests) == 1
    finally:
        z.stop()


def test_refusals_keep_the_ensemble_serving(ensemble):
    e = ensemble(3)
    anon = client(e.hosts([1, 2, 3]), auth=False)
    z = client(e.hosts([1, 2, 3]))
    try:
        with pytest.raises(NoAuthError):
            anon.reconfig(joining=None, leaving="3", new_members=None)
        with pytest.raises(BadVersionError):
            z.reconfig(joining=None, leaving="3", new_members=None, from_config=0x12345)
        with pytest.raises(BadArgumentsError):   # two voters at once: quorums of old and new might not overlap
            z.reconfig(joining=None, leaving="2,3", new_members=None)
        with pytest.raises(BadArgumentsError):
            z.reconfig(joining="server.9=nonsense", leaving=None, new_members=None)
        # Adding a voter is refused while too few of the new membership are synced with the leader:
        # pause one follower, ask the leader directly.
        leader = [i for i in (1, 2, 3) if mode(e.client_port(i)) == "leader"][0]
        follower = [i for i in (1, 2, 3) if i != leader][0]
        zl = client(e.hosts([leader]))
        os.kill(e.procs[follower].pid, signal.SIGSTOP)
        try:
            time.sleep(1.5)
            with pytest.raises(NewConfigNoQuorumError):
                zl.reconfig(joining=e.spec(4), leaving=None, new_members=None)
        finally:
            os.kill(e.procs[follower].pid, signal.SIGCONT)
            zl.stop()
        z.create("/still-writable", b"")
        assert e.wait_serving([1, 2, 3])
    finally:
        anon.stop()
        z.stop()


def test_reconfig_is_refused_when_disabled(ensemble):
    e = ensemble(3, extra="")
    z = client(e.hosts([1, 2, 3]))
    try:
        with pytest.raises(ReconfigDisabledError):
            z.reconfig(joining=None, leaving="3", new_members=None)
    finally:
        z.stop()
