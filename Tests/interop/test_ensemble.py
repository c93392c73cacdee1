"""Multi-process ensemble tests: faults under write load, observers, and bad input on the peer ports and
in member configs (failover and rolling times against Apache ZooKeeper: reliability/availability.py).

Every server is a process started here on 127.0.0.1 with ports picked at run time, and stopped by
PID in teardown. Every wait is bounded. See docs-ensemble-tests.md at the repository root.
"""
import os
import shutil
import socket
import struct
import threading
import time
import uuid
import warnings

import pytest
from kazoo.recipe.watchers import DataWatch

from zktest import jute
from zktest.ensemble import Ensemble, Node, grep_log, wait_for
from zktest.ports import free_ports
from zktest.session import RawSession
from zktest.writer import Writer

SESSION_TIMEOUT = 15.0
# the engine under test for every test but the failover comparison (which runs both)
ENGINE = os.environ.get("ENSEMBLE_KIND", "zkserver")
zkserver_only = pytest.mark.skipif(ENGINE != "zkserver",
                                   reason="checks zkserver's own peer protocol, logs or keys")


@pytest.fixture
def ensembles(tmp_path_factory):
    """Make ensembles for this test; every process they started is stopped afterwards."""
    made = []

    def make(kind=ENGINE, start=True, **kw):
        ens = Ensemble(kind, tmp_path_factory.mktemp(f"ens-{kind}"), **kw)
        made.append(ens)
        if start:
            ens.start()
        return ens

    yield make
    for ens in made:
        for sid, path, rc in ens.close():
            # reported, not failed: the test's own checks are about the running ensemble
            warnings.warn(f"server {sid} did not stop cleanly on SIGTERM (status {rc}); "
                          f"see {path}")


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


def epoch_of(node):
    """The member's epoch: zkserver's mntr zk_epoch, else the epoch half of its zxid."""
    e = node.mntr().get("zk_epoch")
    if e is not None:
        return int(e)
    z = node.zxid()
    return None if z is None else z >> 32


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
def test_faults_under_write_load(request, ensembles, clients, size):
    # frequent snapshots, so restarted members may have to be sent one
    ens = ensembles(voters=size, extra_cfg={"snapCount": "200"})
    leader = ens.wait_stable(timeout=60)
    log(f"{size} members up, leader {leader.sid}: {ens.modes()}")

    # one long-lived kazoo session holding an ephemeral node and a data watch that the client
    # re-arms after reconnecting (kazoo's DataWatch re-reads the node on every reconnection)
    long = clients(ens.hosts)
    session_id = long.client_id[0]
    states = []
    long.add_listener(lambda s: states.append(s))
    tag = uuid.uuid4().hex[:8]
    eph, watched, raw_watched = f"/eph-{tag}", f"/watched-{tag}", f"/raw-watched-{tag}"
    long.create_async(eph, b"mine", ephemeral=True).get(timeout=10)
    long.create_async(watched, b"v0").get(timeout=10)
    long.create_async(raw_watched, b"v0").get(timeout=10)
    seen = []
    fired = threading.Event()

    def on_data(data, stat):
        seen.append(data)
        if data == b"v1":
            fired.set()

    DataWatch(long, watched, on_data)
    wait_for(lambda: seen, 10, what="the first DataWatch call")

    # a raw session that re-registers its one-shot watch itself (SetWatches) when it moves to
    # another member, with an ephemeral node of its own
    raw = RawSession([n.client_port for n in ens.nodes]).open()
    request.addfinalizer(raw.close)
    raw_id = raw.session_id
    assert raw.call(jute.Conn.create, f"/raw-eph-{tag}", b"raw", flags=jute.EPHEMERAL)["err"] == 0
    assert raw.watch_data(raw_watched)["err"] == 0
    raw.start()

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

        # the long session survived the leader's death, with its ephemeral node (client_id is
        # None while kazoo is between connections)
        wait_for(lambda: long.connected and long.client_id, 20, what="the long session to reconnect")
        assert long.client_id[0] == session_id
        stat = long.exists_async(eph).get(timeout=10)
        assert stat is not None and stat.ephemeralOwner == session_id
        other = clients(ens.hosts)
        stat = other.exists_async(eph).get(timeout=10)
        assert stat is not None and stat.ephemeralOwner == session_id
        assert seen == [b"v0"], f"DataWatch saw {seen} before any change"

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
        voters_up = sum(1 for n in ens.running() if n.role == "participant")
        wait_for(lambda: leader.mntr().get("zk_synced_followers") == str(voters_up - 1), 10,
                 what=f"the leader counting {voters_up - 1} synced followers")

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
        paused.pause()
        log(f"SIGSTOP server {paused.sid}")
        for w in writers:
            w.wait_progress(20, timeout=30)
        time.sleep(4.0)
        paused.resume()
        log(f"SIGCONT server {paused.sid}")
        ens.wait_stable(timeout=30)
        for w in writers:
            w.wait_progress(20, timeout=30)

        # (e) SIGSTOP the leader: the others elect a new one; once it runs again the old leader
        # follows, and nothing it may still have accepted as leader becomes visible unless
        # committed by the new quorum (checked by the convergence and acknowledged-write checks)
        leader = ens.stable()
        leader.pause()
        log(f"SIGSTOP leader {leader.sid}")
        rest = [n for n in ens.running() if n is not leader]
        new_leader = ens.wait_stable(timeout=30, nodes=rest)
        log(f"new leader {new_leader.sid}")
        for w in writers:
            w.wait_progress(20, timeout=30)
        leader.resume()
        ens.wait_stable(timeout=30)
        log(f"SIGCONT server {leader.sid}: {ens.modes()}")
        for w in writers:
            w.wait_progress(20, timeout=30)

        if len(ens.nodes) - 2 >= quorum_of(ens):
            # a paused follower and a dead leader at once: the rest still form a quorum, and the
            # paused member follows the new leader once it runs again
            leader = ens.stable()
            paused = next(n for n in ens.running() if n is not leader)
            paused.pause()
            leader.kill9()
            log(f"SIGSTOP server {paused.sid} and killed leader {leader.sid}")
            rest = [n for n in ens.running() if n is not paused]
            new_leader = ens.wait_stable(timeout=30, nodes=rest)
            log(f"new leader {new_leader.sid}")
            for w in writers:
                w.wait_progress(20, timeout=30)
            paused.resume()
            leader.start()
            ens.wait_stable(timeout=30)
            log(f"SIGCONT server {paused.sid}, restarted {leader.sid}: {ens.modes()}")
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

    # the sessions are the same ones, their ephemerals are there, and the watches armed before
    # the leader's death fire on a later change
    wait_for(lambda: long.connected and long.client_id, 20, what="the long session to reconnect")
    assert long.client_id[0] == session_id
    assert "LOST" not in [str(s) for s in states], f"session was lost: {states}"
    stat = reader.exists_async(eph).get(timeout=10)
    assert stat is not None and stat.ephemeralOwner == session_id
    assert seen == [b"v0"] * len(seen), f"DataWatch saw {seen} before any change"
    reader.set_async(watched, b"v1").get(timeout=10)
    assert fired.wait(15), f"the DataWatch did not see the change (saw {seen})"

    moves = [r for r in raw.reconnects if r[1] is None]
    log(f"raw session {raw_id:#x}: {len(moves)} connections, events {raw.events}")
    assert not raw.expired and raw.session_id == raw_id
    assert len(moves) >= 2, f"the raw session never moved: {raw.reconnects}"
    stat = reader.exists_async(f"/raw-eph-{tag}").get(timeout=10)
    assert stat is not None and stat.ephemeralOwner == raw_id
    assert raw.events == [], f"raw watch fired before any change: {raw.events}"
    reader.set_async(raw_watched, b"v1").get(timeout=10)
    wait_for(lambda: raw.events, 15, what="the re-registered raw data watch to fire")
    assert raw.events == [(jute.NODE_DATA_CHANGED, raw_watched)], raw.events
    raw.close()


def test_whole_ensemble_kill9_and_restart(ensembles, clients):
    """Every member killed at once under load: after a restart on the same dataDirs every
    acknowledged write is back and the members agree."""
    ens = ensembles(voters=3)
    ens.wait_stable(timeout=60)
    tag = uuid.uuid4().hex[:8]
    writers = [Writer(clients(ens.hosts), f"/all-{tag}-{i}", max_seconds=60.0) for i in range(2)]
    for w in writers:
        w.start()
    try:
        for w in writers:
            w.wait_progress(100, timeout=30)
        for n in ens.nodes:
            os.kill(n.proc.pid, 9)
        for n in ens.nodes:
            n.proc.wait(timeout=10)
        log("killed every member")
    finally:
        for w in writers:
            w.stop_event.set()
    ens.start()
    ens.wait_stable(timeout=60)
    for w in writers:
        w.finish()
        assert not w.errors, f"writer {w.base} failed: {w.errors!r}"
    assert_converged(ens, clients)
    reader = clients(ens.hosts)
    for w in writers:
        children = set(reader.get_children_async(w.base).get(timeout=10))
        missing = [p for p in w.acked_creates if p.rsplit("/", 1)[1] not in children]
        assert not missing, f"acknowledged creates lost: {missing[:5]} of {len(w.acked_creates)}"
        data, stat = reader.get_async(w.base + "/counter").get(timeout=10)
        last_version, last_data = w.acked_sets[-1]
        assert stat.version >= last_version
        if stat.version == last_version:
            assert data == last_data
        log(f"{w.base}: {len(w.acked_creates)} acknowledged creates all present")


def test_follower_with_wiped_data_rejoins(ensembles, clients):
    """A follower whose dataDir was emptied (only myid kept, as after a disk replacement)
    rejoins and gets the whole tree from the leader."""
    ens = ensembles(voters=3)
    leader = ens.wait_stable(timeout=60)
    k = clients(ens.hosts)
    tag = uuid.uuid4().hex[:8]
    k.create_async(f"/wiped-{tag}", b"").get(timeout=10)
    pending = [k.create_async(f"/wiped-{tag}/n{i}", str(i).encode()) for i in range(200)]
    for p in pending:
        p.get(timeout=30)
    follower = next(n for n in ens.nodes if n is not leader)
    follower.kill9()
    for entry in follower.data_dir.iterdir():
        if entry.name != "myid":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for i in range(200, 250):
        k.create_async(f"/wiped-{tag}/n{i}", str(i).encode()).get(timeout=10)
    follower.start()
    try:
        ens.wait_stable(timeout=20)
    except TimeoutError:
        raise AssertionError(
            f"the wiped server {follower.sid} did not rejoin within 20 s: modes {ens.modes()}, "
            f"leader {leader.sid} mntr zk_synced_followers="
            f"{leader.mntr().get('zk_synced_followers')}\n{ens.tails(8)}") from None
    assert ens.stable() is leader
    assert_converged(ens, clients)
    f = clients(follower.hosts)
    children = f.get_children_async(f"/wiped-{tag}").get(timeout=10)
    assert len(children) == 250, f"the wiped follower has {len(children)} of 250 children"


def test_paused_leader_acknowledges_nothing_lost(ensembles, clients):
    """Requests that reach a leader while it is paused and deposed: whatever it acknowledges once
    it runs again must be in the state the new quorum agrees on; an unanswered request (connection
    closed) may or may not have been applied."""
    ens = ensembles(voters=3)
    leader = ens.wait_stable(timeout=60)
    others = [n for n in ens.nodes if n is not leader]
    c = jute.Conn(leader.client_port, timeout=10)
    c.connect(timeout_ms=15000)
    assert c.create("/paused", b"v0")["err"] == 0
    leader.pause()
    new_leader = ens.wait_stable(timeout=30, nodes=others)
    with jute.Conn(new_leader.client_port) as o:
        o.connect()
        assert o.set("/paused", b"v1")["err"] == 0
    # queued in the kernel for the paused process
    sent = {
        c.send_request(jute.CREATE, jute.create_body("/paused-create", b"z")): "create",
        c.send_request(jute.SET_DATA, jute.set_data_body("/paused", b"v0-next", 0)): "set",
        c.send_request(jute.GET_DATA, jute.path_body("/paused", False)): "get",
    }
    leader.resume()
    replies = {}
    try:
        for _ in range(len(sent)):
            xid, zxid, err, body = c.read_reply()
            replies[sent.get(xid, xid)] = (err, body)
    except (OSError, jute.Closed, ValueError) as exc:
        replies["closed"] = repr(exc)
    c.close()
    log(f"replies from the deposed leader: {replies}")
    ens.wait_stable(timeout=30)
    assert_converged(ens, clients)
    k = clients(new_leader.hosts)
    data, stat = k.get_async("/paused").get(timeout=10)
    if "set" in replies and replies["set"][0] == 0:
        assert data == b"v0-next", f"an acknowledged setData is lost: /paused is {data!r}"
    else:
        assert data == b"v1" and stat.version == 1
    if "create" in replies and replies["create"][0] == 0:
        assert k.exists_async("/paused-create").get(timeout=10) is not None, \
            "an acknowledged create is lost"


def test_session_expires_across_leader_change(ensembles, clients):
    """A session whose client vanished (no closeSession) still expires, and its ephemeral node
    goes, after the leader that tracked it died."""
    ens = ensembles(voters=3)
    leader = ens.wait_stable(timeout=60)
    follower = next(n for n in ens.nodes if n is not leader)
    c = jute.Conn(follower.client_port)
    r = c.connect(timeout_ms=4000)
    assert r["timeOut"] == 4000, r
    assert c.create("/vanishing", b"", flags=jute.EPHEMERAL)["err"] == 0
    c.close()
    t0 = time.monotonic()
    leader.kill9()
    new_leader = ens.wait_stable(timeout=30)
    elapsed = time.monotonic() - t0
    k = clients(new_leader.hosts)
    if elapsed < 2.0:
        assert k.exists_async("/vanishing").get(timeout=10) is not None, \
            "the ephemeral went before its session timed out"
    wait_for(lambda: k.exists_async("/vanishing").get(timeout=10) is None, 20, interval=0.2,
             what="the vanished session to expire under the new leader")
    log(f"ephemeral of the vanished 4 s session gone {time.monotonic() - t0:.1f} s after "
        f"the client left (election took {elapsed:.1f} s)")


def test_session_resumed_on_a_follower_waits_for_a_leader(ensembles):
    """A client resuming its session on a follower is answered only once a leader stands behind that
    follower (Apache's followers revalidate the session with the leader; so does zkserver). With the
    leader SIGSTOPped nothing closes, and the follower still holds the session in its own table: it
    must not answer from it while no leader is there."""
    ens = ensembles(voters=3)
    leader = ens.wait_stable(timeout=60)
    first, second = [n for n in ens.nodes if n is not leader]
    c = jute.Conn(first.client_port, host=first.host)
    s = c.connect(timeout_ms=30000)
    assert c.create("/revalidated", b"x")["err"] == 0
    c.close()   # the connection only: the session lives on
    old_epoch = second.zxid() >> 32
    leader.pause()
    try:
        t0 = time.monotonic()
        resumed = None
        while resumed is None and time.monotonic() - t0 < 40:
            try:
                with jute.Conn(second.client_port, host=second.host, timeout=30) as c2:
                    r = c2.connect(timeout_ms=30000, session_id=s["sessionId"], passwd=s["passwd"])
                    epoch = (second.zxid() or 0) >> 32
                    assert r["timeOut"] > 0, f"the session was refused: {r}"
                    resumed = (time.monotonic() - t0, epoch)
            except (OSError, jute.Closed, struct.error):
                time.sleep(0.05)   # closed while no leader: try again, as clients do
        assert resumed is not None, "the session was not resumed within 40 s of the leader's pause"
        took, epoch = resumed
        assert epoch > old_epoch, (f"follower {second.sid} resumed the session after {took:.3f} s from its "
                                   f"own table, while the paused leader's epoch {old_epoch} was still current")
        log(f"session resumed on follower {second.sid} {took:.2f} s after the leader's pause, in epoch {epoch}")
    finally:
        leader.resume()


# ---------------------------------------------------------------------------------------------
# 2. observers


def test_observer(ensembles, clients):
    ens = ensembles(voters=3, observers=1)
    observer = ens.node(4)
    leader = ens.wait_stable(timeout=60)
    assert observer.mode() == "observer"
    wait_for(lambda: leader.mntr().get("zk_synced_observers") == "1", 15,
             what="the leader counting one synced observer")
    epoch = epoch_of(leader)

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
    assert epoch_of(leader) == epoch
    for n in ens.running():
        check_write(ens, n, clients, f"after-observer-{n.sid}")

    # it comes back as an observer and catches up
    observer.start()
    ens.wait_stable(timeout=30)
    assert observer.mode() == "observer"
    assert epoch_of(leader) == epoch
    assert_converged(ens, clients)

    # it follows a new leader after the leader's death, and still takes writes
    leader.kill9()
    new_leader = ens.wait_stable(timeout=30)
    assert new_leader is not observer and observer.mode() == "observer"
    # The voters may settle before the observer has noticed the old leader is gone; until it follows
    # the new one it may still drop its clients (ConnectionLoss), as Apache ZooKeeper's observers do.
    wait_for(lambda: epoch_of(observer) == epoch_of(new_leader), 15, what="the observer following the new leader")
    obs.create_async("/obs-after-failover", b"again").get(timeout=15)
    check_write(ens, observer, clients, "observer-after-failover")
    leader.start()
    ens.wait_stable(timeout=30)
    assert_converged(ens, clients)
    assert clients(leader.hosts).get_async("/obs-after-failover").get(timeout=10)[0] == b"again"


# ---------------------------------------------------------------------------------------------
# 3. failover time, zkserver against Apache ZooKeeper: see reliability/availability.py


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


# The version byte of zkserver's peer handshake (Sources/ZKServer/Ensemble/PeerTransport.swift).
PEER_PROTOCOL = 2


@zkserver_only
def test_garbage_on_peer_ports(bad_ens, clients):
    ens = bad_ens
    leader = ens.stable()
    epoch = epoch_of(leader)
    for n in ens.nodes:
        for port in (n.quorum_port, n.election_port):
            send_bytes(port, garbage())
    # a well-formed handshake from an id that is not a member
    hello = b"ZKPR" + bytes([PEER_PROTOCOL]) + struct.pack(">QH", 77, 0)
    send_bytes(leader.quorum_port, hello + garbage(64))
    # a handshake claiming to be a member, followed by an undecodable frame
    member = next(n for n in ens.nodes if n is not leader)
    fake = b"ZKPR" + bytes([PEER_PROTOCOL]) + struct.pack(">QH", member.sid, 0)
    # a member speaking another version of the peer protocol
    old = b"ZKPR" + bytes([PEER_PROTOCOL - 1]) + struct.pack(">QH", member.sid, 0)
    send_bytes(leader.quorum_port, old + garbage(16))
    send_bytes(leader.quorum_port, fake + struct.pack(">I", 16) + garbage(16))

    # a member's handshake followed by a frame length far over any limit
    send_bytes(leader.election_port, fake + struct.pack(">I", 0xFFFFFFF0) + garbage(16))

    for n in ens.nodes:
        lines = wait_for(lambda: grep_log(n, r"closing (quorum|election) connection from .*not a "
                                             r"zkserver peer"), 10, what=f"server {n.sid} log line")
        log(f"server {n.sid}: {lines[0]}")
    assert wait_for(lambda: grep_log(leader, r"server id 77 is not a member"), 10,
                    what="a log line for the unknown id")
    assert wait_for(lambda: grep_log(leader, rf"peer protocol version {PEER_PROTOCOL - 1} is not "
                                             rf"{PEER_PROTOCOL}; upgrade all members"), 10,
                    what="a log line for the other protocol version")
    assert wait_for(lambda: grep_log(leader, r"undecodable message"), 10,
                    what="a log line for the undecodable frame")
    assert wait_for(lambda: grep_log(leader, r"election connection .*over the limit"), 10,
                    what="a log line for the oversized frame")
    time.sleep(1.0)
    assert ens.wait_stable(timeout=10) is leader, f"leader changed: {ens.modes()}"
    assert epoch_of(leader) == epoch
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


@zkserver_only
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


@zkserver_only
def test_duplicate_server_id(bad_ens, clients):
    ens = bad_ens
    leader = ens.stable()
    epoch = epoch_of(leader)
    original = ens.node(1)
    dup = stray_node(ens, 1, "dup1", like=original)
    dup.start()
    rc = wait_exit(dup)
    text = dup.log_text()
    assert rc != 0, text
    assert "cannot listen" in text, text
    log(f"duplicate exit {rc}: " + next(x for x in text.splitlines() if "cannot listen" in x).strip())
    assert ens.wait_stable(timeout=10) is leader
    assert epoch_of(leader) == epoch
    for n in ens.nodes:
        check_write(ens, n, clients, f"dup-{n.sid}")


@zkserver_only
def test_duplicate_server_id_own_ports(bad_ens, clients):
    """A second process claiming the leader's id from other ports can bind, but must neither
    serve nor disturb the ensemble."""
    ens = bad_ens
    leader = ens.stable()
    epoch = epoch_of(leader)
    impostor = stray_node(ens, leader.sid, "impostor")
    # its config names its own ports for the leader's id; the other lines are the ensemble's
    idx = ens.nodes.index(leader)
    ens.nodes[idx] = impostor
    try:
        impostor.write_files()
    finally:
        ens.nodes[idx] = leader
    impostor.write_files = lambda: None
    impostor.start()
    deadline = time.monotonic() + 6.0
    while time.monotonic() < deadline:
        assert impostor.running() is False or impostor.srvr().get("serving") is not True
        assert ens.stable(ens.nodes) is leader, f"modes changed: {ens.modes(ens.nodes)}"
        time.sleep(0.3)
    assert epoch_of(leader) == epoch
    wait_for(lambda: leader.mntr().get("zk_synced_followers") == "2", 10,
             what="both real followers synced")
    for n in ens.nodes:
        check_write(ens, n, clients, f"impostor-{n.sid}")
    log(f"impostor of server {leader.sid}: running={impostor.running()}, srvr={impostor.srvr()}")


@zkserver_only
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
