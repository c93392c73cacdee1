"""Durability across `kill -9` and restart time with 100k znodes."""
import threading
import time

import pytest

from zktest import jute
from zktest.words import is_ok

STREAM_MAX = 2000       # creates sent at most
STREAM_SECONDS = 10.0   # ... or for at most this long
WINDOW = 32             # requests in flight at once


def stream_creates(port, parent, acked, stop):
    """Pipeline creates of parent/n-<i> with data b'payload-<i>'; append every acknowledged
    path to `acked`. Ends on the connection closing, STREAM_MAX, STREAM_SECONDS or `stop`."""
    deadline = time.monotonic() + STREAM_SECONDS
    try:
        with jute.connected(port) as c:
            pending = {}
            sent = 0
            while time.monotonic() < deadline and not stop.is_set():
                while sent < STREAM_MAX and len(pending) < WINDOW:
                    path = f"{parent}/n-{sent:05d}"
                    pending[c.send_request(jute.CREATE, jute.create_body(path, f"payload-{sent}".encode()))] = path
                    sent += 1
                if not pending:
                    break
                xid, _, err, _ = c.read_reply()
                path = pending.pop(xid)
                if err == 0:
                    acked.append(path)
                else:
                    raise AssertionError(f"create {path} failed with {err}")
    except (jute.Closed, OSError):
        pass  # the server was killed


@pytest.mark.slow
def test_acknowledged_creates_survive_kill9(zk_factory, kazoo_factory, capsys):
    srv = zk_factory()
    setup = kazoo_factory(server=srv)
    setup.create("/durable")
    setup.stop()
    acked, stop = [], threading.Event()
    t = threading.Thread(target=stream_creates, args=(srv.port, "/durable", acked, stop), daemon=True)
    t.start()
    deadline = time.monotonic() + STREAM_SECONDS
    while len(acked) < 300 and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.005)
    srv.kill9()
    killed_at = len(acked)
    t.join(timeout=15)
    stop.set()
    assert not t.is_alive()
    assert killed_at > 0, "no create was acknowledged before the kill"
    srv.start()
    kz = kazoo_factory(server=srv)
    children = set(kz.get_children("/durable"))
    missing = [p for p in acked if p.rsplit("/", 1)[1] not in children]
    with capsys.disabled():
        print(f"\nDURABILITY[{srv.kind}]: {len(acked)} creates acknowledged before kill -9, "
              f"{len(children)} present after restart, {len(missing)} acknowledged but missing")
    assert not missing, f"acknowledged znodes lost after kill -9: {missing[:10]}..."
    for path in acked[:: max(1, len(acked) // 50)]:
        i = int(path.rsplit("-", 1)[1])
        assert kz.get(path)[0] == f"payload-{i}".encode()
    # the server keeps working after recovery
    kz.create("/durable/after-restart", b"ok")
    assert kz.get("/durable/after-restart")[0] == b"ok"


@pytest.mark.slow
def test_restart_after_kill9_twice_keeps_state(zk_factory, kazoo_factory):
    srv = zk_factory()
    kz = kazoo_factory(server=srv)
    kz.create("/k/a", b"1", makepath=True)
    kz.set("/k/a", b"2")
    kz.create("/k/s-", sequence=True)
    kz.delete("/k/s-0000000001")
    _, before = kz.get("/k/a")
    kz.stop()
    for _ in range(2):
        srv.kill9()
        srv.start()
    kz = kazoo_factory(server=srv)
    data, after = kz.get("/k/a")
    assert data == b"2" and after.version == before.version == 1
    assert after.czxid == before.czxid and after.mzxid == before.mzxid
    assert kz.get_children("/k") == ["a"]
    # sequence numbering continues from the stored child counter
    assert kz.create("/k/s-", sequence=True) == "/k/s-0000000002"


def populate(port, parent, total, per_multi=1000, window=8):
    """Create parent/n-<i> for i < total with pipelined multi requests."""
    with jute.connected(port) as c:
        assert c.create(parent)["err"] == 0
        pending, next_i = set(), 0
        deadline = time.monotonic() + 120
        while (next_i < total or pending) and time.monotonic() < deadline:
            while next_i < total and len(pending) < window:
                ops = [(jute.CREATE, jute.create_body(f"{parent}/n-{i:06d}", b"0123456789abcdef"))
                       for i in range(next_i, min(total, next_i + per_multi))]
                pending.add(c.send_request(jute.MULTI, jute.multi_body(ops)))
                next_i += len(ops)
            xid, _, err, body = c.read_reply()
            assert err == 0, err
            results = jute.decode_multi(body)
            assert all(r["err"] == 0 for r in results), results[:3]
            pending.discard(xid)
        assert next_i == total and not pending, "populating timed out"


def time_restart(srv, total):
    """Restart `srv`; return (seconds to ruok, seconds to the first successful read)."""
    srv.stop()
    srv.start(wait=False)
    started = srv.started_at
    ruok_s = read_s = None
    deadline = started + 120
    while time.monotonic() < deadline and read_s is None:
        assert srv.running(), f"server exited:\n{srv.log_tail()}"
        if ruok_s is None and is_ok(srv.port):
            ruok_s = time.monotonic() - started
        if ruok_s is not None:
            try:
                with jute.Conn(srv.port, timeout=2.0) as c:
                    c.connect(timeout_ms=10000)
                    r = c.get(f"/bulk/n-{total - 1:06d}")
                    if r["err"] == 0:
                        read_s = time.monotonic() - started
                        assert c.exists("/bulk")["stat"]["numChildren"] == total
            except (OSError, jute.Closed):
                pass
        time.sleep(0.01)
    assert read_s is not None, "no successful read within 120 s of restart"
    return ruok_s, read_s


@pytest.mark.slow
def test_startup_time_with_100k_znodes(zk_factory, zk_kind, capsys):
    """Restart time with 100k znodes. The machine is shared, so the server is restarted three
    times and the best time is the one held to the limit (zkserver only); all are printed."""
    total = 100_000
    srv = zk_factory()
    t0 = time.monotonic()
    populate(srv.port, "/bulk", total)
    fill_s = time.monotonic() - t0
    runs = [time_restart(srv, total) for _ in range(3)]
    best = min(read for _, read in runs)
    with capsys.disabled():
        print(f"\nSTARTUP[{zk_kind}] {total} znodes (filled in {fill_s:.1f} s): " + ", ".join(
            f"ruok after {r:.3f} s, first successful read after {d:.3f} s" for r, d in runs)
            + f"; best {best:.3f} s")
    if zk_kind == "zkserver":
        assert best < 1.0, f"zkserver took at best {best:.3f} s to serve a read after a restart"


def stream_multis(port, acked, stop, ops_per_multi=10):
    """Pipelined multis, each creating /atomic/m<i>-<j> for j < ops_per_multi. Appends i to
    `acked` for every multi the server acknowledged as successful."""
    deadline = time.monotonic() + STREAM_SECONDS
    try:
        with jute.connected(port) as c:
            pending, i = {}, 0
            while time.monotonic() < deadline and not stop.is_set():
                while i < STREAM_MAX and len(pending) < WINDOW:
                    ops = [(jute.CREATE, jute.create_body(f"/atomic/m{i:05d}-{j}", b"x" * 64))
                           for j in range(ops_per_multi)]
                    pending[c.send_request(jute.MULTI, jute.multi_body(ops))] = i
                    i += 1
                if not pending:
                    break
                xid, _, err, body = c.read_reply()
                n = pending.pop(xid)
                results = jute.decode_multi(body)
                assert err == 0 and all(r["err"] == 0 for r in results), (n, err, results[:2])
                acked.append(n)
    except (jute.Closed, OSError):
        pass


@pytest.mark.slow
def test_multi_is_atomic_across_kill9_with_frequent_snapshots(zk_factory, kazoo_factory, capsys):
    ops_per_multi = 10
    srv = zk_factory({"snapCount": "50"})  # snapshots are taken while the stream runs
    kazoo_factory(server=srv).create("/atomic")
    acked, stop = [], threading.Event()
    t = threading.Thread(target=stream_multis, args=(srv.port, acked, stop, ops_per_multi),
                         daemon=True)
    t.start()
    deadline = time.monotonic() + STREAM_SECONDS
    while len(acked) < 150 and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.005)
    srv.kill9()
    t.join(timeout=15)
    stop.set()
    assert acked, "no multi was acknowledged before the kill"
    srv.start()
    kz = kazoo_factory(server=srv)
    groups = {}
    for name in kz.get_children("/atomic"):
        m, j = name.split("-")
        groups.setdefault(int(m[1:]), set()).add(int(j))
    partial = {m: sorted(js) for m, js in groups.items() if len(js) != ops_per_multi}
    lost = [m for m in acked if m not in groups]
    with capsys.disabled():
        print(f"\nATOMICITY[{srv.kind}]: {len(acked)} multis acknowledged before kill -9, "
              f"{len(groups)} present after restart, {len(partial)} partial, {len(lost)} lost")
    assert not partial, f"multis applied partially after a crash: {list(partial.items())[:5]}"
    assert not lost, f"acknowledged multis lost after kill -9: {lost[:10]}"


@pytest.mark.slow
def test_session_survives_server_restart(zk_factory, kazoo_factory):
    from kazoo.client import KazooClient
    from kazoo.protocol.states import KazooState

    srv = zk_factory()
    states = []
    client = KazooClient(hosts=srv.hosts, timeout=15.0)
    client.add_listener(states.append)
    client.start(timeout=15)
    try:
        sid = client.client_id[0]
        client.create("/eph", b"mine", ephemeral=True)
        srv.kill9()
        srv.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (states and states[-1] == KazooState.CONNECTED
                                                   and KazooState.SUSPENDED in states):
            time.sleep(0.05)
        assert states[-1] == KazooState.CONNECTED and KazooState.LOST not in states, states
        assert client.client_id[0] == sid, "the session did not survive the restart"
        assert client.get("/eph")[0] == b"mine"
        assert client.exists("/eph").ephemeralOwner == sid
    finally:
        client.stop()
        client.close()
    other = kazoo_factory(server=srv)
    assert other.exists("/eph") is None  # closing the resumed session removed it


@pytest.mark.slow
def test_orphaned_session_still_expires_after_restart(zk_factory, kazoo_factory):
    srv = zk_factory()
    a = jute.connected(srv.port, timeout_ms=4000)
    try:
        assert a.create("/orphan", flags=jute.EPHEMERAL)["err"] == 0
    finally:
        a.close()
    srv.kill9()
    srv.start()
    kz = kazoo_factory(server=srv)
    assert kz.exists("/orphan") is not None, "the ephemeral did not survive the restart"
    deadline = time.monotonic() + 20
    while kz.exists("/orphan") is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kz.exists("/orphan") is None, "the restored session never expired"


def dump_tree(port):
    """Every znode's data, exact Stat and ACL, read as the super user."""
    out = {}
    with jute.connected(port) as c:
        assert c.auth("digest", "super:test")["err"] == 0
        todo = ["/"]
        for _ in range(100_000):
            if not todo:
                break
            path = todo.pop()
            r = c.call(jute.GET_CHILDREN2, jute.path_body(path, False))
            d = c.get(path)
            a = c.call(jute.GET_ACL, jute.path_body(path))
            assert r["err"] == d["err"] == a["err"] == 0, (path, r, d, a)
            out[path] = (d["data"], d["stat"], a["acl"], sorted(r["children"]))
            todo += [("" if path == "/" else path) + "/" + ch for ch in r["children"]]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("stop,snap_count", [("kill9", "10000"), ("kill9", "20"), ("term", "20")],
                         ids=["kill9-log-only", "kill9-with-snapshots", "sigterm-with-snapshots"])
def test_recovery_restores_the_exact_tree(zk_factory, stop, snap_count):
    """After the behaviour-diff scripts, stop (kill -9 or SIGTERM) and restart: every znode comes
    back with the same data, Stat (zxids and times included) and ACL."""
    import test_behaviour_diff as diff

    srv = zk_factory({"snapCount": snap_count})
    diff.run(srv.port, diff.script())
    diff.run(srv.port, diff.edge_script())
    before = dump_tree(srv.port)
    if stop == "kill9":
        srv.kill9()
    else:
        srv.stop()
    srv.start()
    after = dump_tree(srv.port)
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    assert not changed, "\n".join(f"{p}: before {before.get(p)}\n{' ' * len(p)}  after  {after.get(p)}"
                                  for p in changed[:10])
    assert len(before) > 40
