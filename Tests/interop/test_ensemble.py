"""Multi-process ensemble tests: faults under write load, observers, failover time compared with
Apache ZooKeeper 3.8, and bad input on the peer ports and in member configs.

Every server is a process started here on 127.0.0.1 with ports picked at run time, and stopped by
PID in teardown. Every wait is bounded. See docs-ensemble-tests.md at the repository root.
"""
import os
import shutil
import socket
import statistics
import struct
import threading
import time
import uuid

import pytest

from ensemble_harness import Ensemble, Node, free_ports, grep_log, wait_for
from ensemble_load import Writer

import jute

SESSION_TIMEOUT = 15.0


@pytest.fixture
def ensembles(tmp_path_factory):
    """Make ensembles for this test; every process they started is stopped afterwards."""
    made = []

    def make(kind="zkserver", start=True, **kw):
        ens = Ensemble(kind, tmp_path_factory.mktemp(f"ens-{kind}"), **kw)
        made.append(ens)
        if start:
            ens.start()
        return ens

    yield make
    for ens in made:
        ens.close()


@pytest.fixture
def clients():
    """Make started KazooClients; all are stopped and closed afterwards."""
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry

    made = []

    def make(hosts, timeout=SESSION_TIMEOUT, **kw):
        c = KazooClient(hosts=hosts, timeout=timeout,
                        connection_retry=KazooRetry(max_tries=-1, delay=0.1, max_delay=1.0),
                        **kw)
        made.append(c)
        c.start(timeout=20)
        return c

    yield make
    for c in made:
        try:
            c.stop()
            c.close()
        except Exception:
            pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def quorum_of(ens):
    return sum(1 for n in ens.nodes if n.role == "participant") // 2 + 1


def check_write(ens, node, clients, tag):
    """A write through `node` alone succeeds and is readable there."""
    c = clients(node.hosts, timeout=10.0)
    path = f"/check-{tag}-{uuid.uuid4().hex[:8]}"
    c.create_async(path, tag.encode()).get(timeout=10)
    assert c.get_async(path).get(timeout=10)[0] == tag.encode()
    c.stop()
    c.close()


def assert_converged(ens, clients, timeout=30.0):
    """sync through every member, then wait until all report one zxid and one zk_digest."""
    for n in ens.running():
        c = clients(n.hosts, timeout=10.0)
        c.sync_async("/").get(timeout=10)
    try:
        return wait_for(lambda: ens.converged(), timeout, interval=0.2,
                        what="equal zxid and zk_digest on every member")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{ens.state_table()}\n{ens.tails()}") from None


# ---------------------------------------------------------------------------------------------
# 1. faults under a write load


@pytest.mark.parametrize("size", [3, 5])
def test_faults_under_write_load(ensembles, clients, size):
    ens = ensembles(voters=size)
    leader = ens.wait_stable(timeout=60)
    log(f"{size} members up, leader {leader.sid}: {ens.modes()}")

    # one long-lived session holding an ephemeral node and a one-shot data watch
    long = clients(ens.hosts)
    session_id = long.client_id[0]
    states = []
    long.add_listener(lambda s: states.append(s))
    tag = uuid.uuid4().hex[:8]
    eph, watched = f"/eph-{tag}", f"/watched-{tag}"
    long.create_async(eph, b"mine", ephemeral=True).get(timeout=10)
    long.create_async(watched, b"v0").get(timeout=10)
    events = []
    fired = threading.Event()

    def on_watch(ev):
        events.append(ev)
        fired.set()

    long.get_async(watched, watch=on_watch).get(timeout=10)

    writers = [Writer(clients(ens.hosts), f"/load-{tag}-{i}", max_seconds=150.0) for i in range(2)]
    for w in writers:
        w.start()
    try:
        for w in writers:
            w.wait_progress(20, timeout=30)

        # (a) kill -9 the leader
        old_leader = ens.stable()
        assert old_leader is not None
        old_leader.kill9()
        log(f"killed leader {old_leader.sid}")
        new_leader = ens.wait_stable(timeout=30)
        assert new_leader.sid != old_leader.sid
        log(f"new leader {new_leader.sid}")
        for w in writers:
            w.wait_progress(20, timeout=30)

        # the long session survived the leader's death, with its ephemeral node
        assert long.client_id[0] == session_id
        stat = long.exists_async(eph).get(timeout=10)
        assert stat is not None and stat.ephemeralOwner == session_id
        other = clients(ens.hosts)
        stat = other.exists_async(eph).get(timeout=10)
        assert stat is not None and stat.ephemeralOwner == session_id
        assert not events, f"watch fired before any change: {events}"

        down = [old_leader]
        if len(ens.running()) - 1 < quorum_of(ens):
            old_leader.start()
            ens.wait_stable(timeout=30)
            down = []
            log(f"restarted server {old_leader.sid}: {ens.modes()}")

        # (b) kill -9 a follower
        leader = ens.stable()
        follower = next(n for n in ens.running() if n is not leader)
        follower.kill9()
        down.append(follower)
        log(f"killed follower {follower.sid}")
        for w in writers:
            w.wait_progress(20, timeout=30)
        assert ens.stable() is leader, f"killing a follower changed the leader: {ens.modes()}"

        # (d) restart the killed members on their dataDir
        for n in down:
            n.start()
        ens.wait_stable(timeout=30)
        log(f"restarted {[n.sid for n in down]}: {ens.modes()}")
        for w in writers:
            w.wait_progress(20, timeout=30)

        # (c) SIGSTOP a follower for a few seconds, then SIGCONT
        leader = ens.stable()
        paused = next(n for n in ens.running() if n is not leader)
        paused.sigstop()
        log(f"SIGSTOP server {paused.sid}")
        for w in writers:
            w.wait_progress(20, timeout=30)
        time.sleep(max(0.0, 4.0))
        paused.cont()
        log(f"SIGCONT server {paused.sid}")
        ens.wait_stable(timeout=30)
        for w in writers:
            w.wait_progress(20, timeout=30)
    finally:
        for w in writers:
            w.finish()
    for w in writers:
        assert not w.errors, f"writer {w.base} failed: {w.errors!r}"
        log(f"writer {w.base}: {len(w.acked_creates)} creates and {len(w.acked_sets)} sets "
            f"acknowledged, {w.unknown} attempts with unknown outcome")

    # every member converges to one zxid and one digest
    zxid, digest = assert_converged(ens, clients)
    log(f"converged at zxid {zxid:#x}, digest {digest}")

    # every acknowledged write is present on every member
    for n in ens.nodes:
        c = clients(n.hosts, timeout=10.0)
        c.sync_async("/").get(timeout=10)
        for w in writers:
            children = set(c.get_children_async(w.base).get(timeout=10))
            missing = [p for p in w.acked_creates if p.rsplit("/", 1)[1] not in children]
            assert not missing, f"server {n.sid} lacks acknowledged creates {missing[:5]}"
    reader = clients(ens.hosts)
    for w in writers:
        pending = [(p, d, reader.get_async(p)) for p, d in w.acked_creates.items()]
        for p, d, r in pending:
            assert r.get(timeout=10)[0] == d, f"{p}: data differs from the acknowledged write"
        data, stat = reader.get_async(w.base + "/counter").get(timeout=10)
        last_version, last_data = w.acked_sets[-1]
        assert stat.version >= last_version, f"{w.base}/counter went back to version {stat.version}"
        if stat.version == last_version:
            assert data == last_data

    # the session is the same one, its ephemeral is there, and the watch armed before the
    # leader's death fires on a later change
    assert long.client_id[0] == session_id
    assert "LOST" not in [str(s) for s in states], f"session was lost: {states}"
    stat = reader.exists_async(eph).get(timeout=10)
    assert stat is not None and stat.ephemeralOwner == session_id
    assert not events, f"watch fired before any change: {events}"
    reader.set_async(watched, b"v1").get(timeout=10)
    assert fired.wait(15), "the data watch armed before the leader died did not fire"
    assert events[0].type == "CHANGED" and events[0].path == watched


# ---------------------------------------------------------------------------------------------
# 2. observers


def test_observer(ensembles, clients):
    ens = ensembles(voters=3, observers=1)
    observer = ens.node(4)
    leader = ens.wait_stable(timeout=60)
    assert observer.mode() == "observer"
    wait_for(lambda: leader.mntr().get("zk_synced_observers") == "1", 15,
             what="the leader counting one synced observer")
    epoch = leader.mntr().get("zk_epoch")

    # reads and (forwarded) writes through the observer alone
    obs = clients(observer.hosts)
    obs.create_async("/obs-own", b"from-observer").get(timeout=10)
    via_leader = clients(leader.hosts)
    assert via_leader.get_async("/obs-own").get(timeout=10)[0] == b"from-observer"
    via_leader.create_async("/obs-leader", b"from-leader").get(timeout=10)
    obs.sync_async("/obs-leader").get(timeout=10)
    assert obs.get_async("/obs-leader").get(timeout=10)[0] == b"from-leader"
    srvr = observer.srvr()
    assert srvr.get("Mode") == "observer"

    # the observer's death leaves the quorum alone: same leader, same epoch, writes everywhere
    observer.kill9()
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        assert ens.stable() is leader, f"modes changed after the observer died: {ens.modes()}"
        time.sleep(0.2)
    assert leader.mntr().get("zk_epoch") == epoch
    for n in ens.running():
        check_write(ens, n, clients, f"after-observer-{n.sid}")

    # it comes back as an observer and catches up
    observer.start()
    ens.wait_stable(timeout=30)
    assert observer.mode() == "observer"
    assert leader.mntr().get("zk_epoch") == epoch
    assert_converged(ens, clients)


# ---------------------------------------------------------------------------------------------
# 3. failover time, zkserver against Apache ZooKeeper


def measure_failovers(ens, runs, bound):
    """kill -9 the leader, then time until a create through another member succeeds."""
    times = []
    for run in range(runs):
        leader = ens.wait_stable(timeout=120)
        others = [n for n in ens.running() if n is not leader]
        t0 = time.monotonic()
        leader.kill9()
        done = None
        attempt = 0
        while time.monotonic() - t0 < bound:
            n = others[attempt % len(others)]
            attempt += 1
            try:
                with jute.Conn(n.client_port, timeout=1.0) as c:
                    c.connect(timeout_ms=6000)
                    r = c.create(f"/failover-{run}-{attempt}", b"x")
                    if r["err"] == 0:
                        done = time.monotonic() - t0
                        break
            except (OSError, jute.Closed, ValueError, struct.error):
                pass
            time.sleep(0.02)
        log(f"{ens.kind} run {run + 1}: killed leader {leader.sid}, first write after "
            f"{done if done is None else round(done, 2)} s ({attempt} attempts)")
        times.append(done)
        leader.start()
    return times


def fmt_runs(times):
    vals = [t for t in times if t is not None]
    med = f"{statistics.median(vals):.2f} s" if vals else "n/a"
    runs = ", ".join("timeout" if t is None else f"{t:.2f}" for t in times)
    return f"median {med} (runs {runs})"


@pytest.mark.slow
def test_failover_time_vs_apache(ensembles):
    runs = int(os.environ.get("FAILOVER_RUNS", "3"))
    timing = dict(tick_time=2000, init_limit=10, sync_limit=5)
    results = {}
    for kind in ("zkserver", "apache"):
        if kind == "apache" and shutil.which("java") is None:
            results[kind] = None
            continue
        ens = ensembles(kind, voters=3, **timing)
        ens.wait_stable(timeout=120)
        results[kind] = measure_failovers(ens, runs, bound=60.0)
        ens.close()
    apache = fmt_runs(results["apache"]) if results["apache"] is not None else "not run (no java)"
    line = f"FAILOVER (3 nodes, tickTime=2000 initLimit=10 syncLimit=5, kill -9 leader -> first " \
           f"write via another member) zkserver {fmt_runs(results['zkserver'])} | apache {apache}"
    print("\n" + line)
    report = os.environ.get("FAILOVER_REPORT")
    if report:
        with open(report, "a") as f:
            f.write(line + "\n")
    zk = results["zkserver"]
    assert all(t is not None for t in zk), f"a zkserver failover did not finish in 60 s: {zk}"
    assert statistics.median(zk) < 10.0, line


# ---------------------------------------------------------------------------------------------
# 4. bad input


@pytest.fixture
def bad_ens(ensembles):
    ens = ensembles(voters=3)
    ens.wait_stable(timeout=60)
    return ens


def garbage(n=512):
    b = bytearray(os.urandom(n))
    if b[:4] == b"ZKPR":
        b[0] = 0
    return bytes(b)


def send_bytes(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.settimeout(2.0)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass


def test_garbage_on_peer_ports(bad_ens, clients):
    ens = bad_ens
    leader = ens.stable()
    epoch = leader.mntr().get("zk_epoch")
    for n in ens.nodes:
        for port in (n.quorum_port, n.election_port):
            send_bytes(port, garbage())
    # a well-formed handshake from an id that is not a member
    hello = b"ZKPR" + bytes([1]) + struct.pack(">QH", 77, 0)
    send_bytes(leader.quorum_port, hello + garbage(64))
    # a handshake claiming to be a member, followed by an undecodable frame
    member = next(n for n in ens.nodes if n is not leader)
    fake = b"ZKPR" + bytes([1]) + struct.pack(">QH", member.sid, 0)
    send_bytes(leader.quorum_port, fake + struct.pack(">I", 16) + garbage(16))

    for n in ens.nodes:
        lines = wait_for(lambda: grep_log(n, r"closing (quorum|election) connection from .*not a "
                                             r"zkserver peer"), 10, what=f"server {n.sid} log line")
        log(f"server {n.sid}: {lines[0]}")
    assert wait_for(lambda: grep_log(leader, r"server id 77 is not a member"), 10,
                    what="a log line for the unknown id")
    assert wait_for(lambda: grep_log(leader, r"undecodable message"), 10,
                    what="a log line for the undecodable frame")
    time.sleep(1.0)
    assert ens.wait_stable(timeout=10) is leader, f"leader changed: {ens.modes()}"
    assert leader.mntr().get("zk_epoch") == epoch
    wait_for(lambda: leader.mntr().get("zk_synced_followers") == "2", 10,
             what="both followers synced after the garbage")
    for n in ens.nodes:
        check_write(ens, n, clients, f"garbage-{n.sid}")


def stray_node(ens, sid, name, like=None):
    """A server process outside the member list: its own directory, the ensemble's server lines,
    and `like`'s ports (else fresh ones). Stopped with the ensemble."""
    if like is not None:
        ports = (like.client_port, like.quorum_port, like.election_port)
    else:
        ports = tuple(free_ports(3))
    n = Node(ens, sid, ens.base_dir / name, *ports, "participant")
    ens.extra_nodes.append(n)
    return n


def wait_exit(node, timeout=20.0):
    try:
        return node.proc.wait(timeout=timeout)
    except Exception:
        raise AssertionError(f"server {node.sid} in {node.workdir} still runs after {timeout}s; "
                             f"log:\n{node.log_tail()}") from None


def test_myid_not_in_config(bad_ens):
    ens = bad_ens
    n = stray_node(ens, 9, "stray9")
    n.start()
    rc = wait_exit(n)
    text = n.log_text()
    assert rc != 0, text
    assert "myid" in text and "9" in text and "server.9" in text, text
    line = next(x for x in text.splitlines() if "myid" in x and "server.9" in x)
    log(f"exit {rc}: {line.strip()}")
    assert ens.stable() is not None


def test_duplicate_server_id(bad_ens, clients):
    ens = bad_ens
    leader = ens.stable()
    epoch = leader.mntr().get("zk_epoch")
    original = ens.node(1)
    dup = stray_node(ens, 1, "dup1", like=original)
    dup.start()
    rc = wait_exit(dup)
    text = dup.log_text()
    assert rc != 0, text
    assert "cannot listen" in text, text
    log(f"duplicate exit {rc}: " + next(x for x in text.splitlines() if "cannot listen" in x).strip())
    assert ens.wait_stable(timeout=10) is leader
    assert leader.mntr().get("zk_epoch") == epoch
    for n in ens.nodes:
        check_write(ens, n, clients, f"dup-{n.sid}")


def test_member_of_another_cluster(ensembles, clients):
    ens = ensembles(voters=3, start=False, extra_cfg={"clusterName": "alpha"})
    intruder = ens.node(3)
    intruder.extra_cfg["clusterName"] = "beta"
    ens.start()
    home = [ens.node(1), ens.node(2)]
    leader = ens.wait_stable(timeout=60, nodes=home)
    for n in home:
        wait_for(lambda: grep_log(n, r"server 3 belongs to cluster 'beta', this is 'alpha'"), 15,
                 what=f"server {n.sid} refusing server 3")
    wait_for(lambda: grep_log(intruder, r"belongs to cluster 'alpha', this is 'beta'"), 15,
             what="server 3 refusing the others")
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        assert intruder.srvr() == {"serving": False}, intruder.srvr()
        time.sleep(0.3)
    assert ens.stable(home) is leader
    assert leader.mntr().get("zk_synced_followers") == "1"
    for n in home:
        check_write(ens, n, clients, f"cluster-{n.sid}")
