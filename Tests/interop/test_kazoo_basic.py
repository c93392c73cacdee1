"""kazoo against the server under test: CRUD, stats, ephemerals, sequentials, watches, multi,
ACLs, session resumption, and (through the raw client where kazoo has no API) persistent
watches, containers and TTL nodes."""
import queue
import struct
import re
import time

import pytest
from kazoo.exceptions import (BadVersionError, NoAuthError, NodeExistsError, NoNodeError,
                              NotEmptyError, RolledBackError, RuntimeInconsistency)
from kazoo.protocol.states import EventType, KazooState
from kazoo.client import KazooClient
from kazoo.security import ACL, Id, OPEN_ACL_UNSAFE, make_digest_acl

from zktest import jute
from zktest.proxy import DropProxy

WAIT = 5.0
WORLD_READ = ACL(1, Id("world", "anyone"))


def wait_until(cond, timeout=WAIT, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def test_create_get_set_delete_exists_ls(kz, base):
    assert kz.create(f"{base}/a", b"hello") == f"{base}/a"
    data, stat = kz.get(f"{base}/a")
    assert data == b"hello" and stat.version == 0 and stat.dataLength == 5
    stat = kz.set(f"{base}/a", b"world!")
    assert stat.version == 1 and stat.dataLength == 6
    assert kz.get(f"{base}/a")[0] == b"world!"
    kz.create(f"{base}/b")
    kz.create(f"{base}/c/d/e", makepath=True)
    assert sorted(kz.get_children(base)) == ["a", "b", "c"]
    assert kz.exists(f"{base}/c/d/e") is not None
    assert kz.exists(f"{base}/nope") is None
    with pytest.raises(NodeExistsError):
        kz.create(f"{base}/a")
    with pytest.raises(NoNodeError):
        kz.get(f"{base}/nope")
    with pytest.raises(NoNodeError):
        kz.create(f"{base}/nope/child")
    with pytest.raises(NotEmptyError):
        kz.delete(f"{base}/c")
    with pytest.raises(BadVersionError):
        kz.set(f"{base}/a", b"x", version=7)
    with pytest.raises(BadVersionError):
        kz.delete(f"{base}/a", version=0)
    kz.delete(f"{base}/a", version=1)
    kz.delete(f"{base}/c", recursive=True)
    assert sorted(kz.get_children(base)) == ["b"]
    with pytest.raises(NoNodeError):
        kz.delete(f"{base}/a")


def test_empty_and_large_data(kz, base):
    kz.create(f"{base}/empty", b"")
    assert kz.get(f"{base}/empty")[0] == b""
    big = bytes(range(256)) * 2000  # 512000 bytes, under the 1 MiB frame limit
    kz.create(f"{base}/big", big)
    data, stat = kz.get(f"{base}/big")
    assert data == big and stat.dataLength == len(big)


def test_stat_fields(kz, base):
    before = time.time() * 1000
    kz.create(f"{base}/n", b"abc")
    _, st = kz.get(f"{base}/n")
    assert (st.version, st.cversion, st.aversion, st.numChildren, st.ephemeralOwner) == (0, 0, 0, 0, 0)
    assert st.dataLength == 3
    assert st.czxid == st.mzxid == st.pzxid > 0
    assert st.ctime == st.mtime
    assert abs(st.ctime - before) < 60_000, "ctime is not milliseconds since the epoch"
    st2 = kz.set(f"{base}/n", b"abcd")
    assert st2.version == 1 and st2.mzxid > st.mzxid and st2.czxid == st.czxid
    assert st2.mtime >= st2.ctime and st2.pzxid == st.pzxid
    kz.create(f"{base}/n/c1")
    kz.create(f"{base}/n/c2")
    _, st3 = kz.get(f"{base}/n")
    assert st3.numChildren == 2 and st3.cversion == 2 and st3.pzxid > st2.mzxid
    assert st3.version == 1 and st3.mzxid == st2.mzxid
    kz.delete(f"{base}/n/c1")
    _, st4 = kz.get(f"{base}/n")
    assert st4.numChildren == 1 and st4.cversion == 3 and st4.pzxid > st3.pzxid
    kz.set_acls(f"{base}/n", OPEN_ACL_UNSAFE)
    _, st5 = kz.get(f"{base}/n")
    assert st5.aversion == 1 and st5.mzxid == st4.mzxid and st5.version == 1


def test_ephemeral_vanishes_after_session_close(kazoo_factory, kz, base):
    owner = kazoo_factory()
    owner.create(f"{base}/eph", b"x", ephemeral=True)
    st = kz.exists(f"{base}/eph")
    assert st is not None and st.ephemeralOwner == owner.client_id[0] != 0
    with pytest.raises(Exception):
        owner.create(f"{base}/eph/child")  # NoChildrenForEphemeralsError
    deleted = queue.Queue()
    kz.exists(f"{base}/eph", watch=deleted.put)
    owner.stop()
    ev = deleted.get(timeout=WAIT)
    assert ev.type == EventType.DELETED and ev.path == f"{base}/eph"
    assert kz.exists(f"{base}/eph") is None


def test_sequential_names(kz, base):
    paths = [kz.create(f"{base}/s-", sequence=True) for _ in range(3)]
    assert paths == [f"{base}/s-{i:010d}" for i in range(3)]
    kz.create(f"{base}/plain")
    p = kz.create(f"{base}/e-", ephemeral=True, sequence=True)
    assert p == f"{base}/e-0000000004"
    assert re.fullmatch(r".*/e-\d{10}", p)
    # a trailing slash on the parent is legal for sequential creates
    assert kz.create(f"{base}/", sequence=True) == f"{base}/0000000005"


def test_one_shot_data_watch(kz, kazoo_factory, base):
    other = kazoo_factory()
    kz.create(f"{base}/w", b"1")
    events = queue.Queue()
    kz.get(f"{base}/w", watch=events.put)
    other.set(f"{base}/w", b"2")
    ev = events.get(timeout=WAIT)
    assert (ev.type, ev.path, ev.state) == (EventType.CHANGED, f"{base}/w", KazooState.CONNECTED)
    other.set(f"{base}/w", b"3")  # one-shot: no second event
    with pytest.raises(queue.Empty):
        events.get(timeout=0.5)
    kz.get(f"{base}/w", watch=events.put)
    other.delete(f"{base}/w")
    assert events.get(timeout=WAIT).type == EventType.DELETED


def test_exists_watch_on_missing_node(kz, kazoo_factory, base):
    other = kazoo_factory()
    events = queue.Queue()
    assert kz.exists(f"{base}/later", watch=events.put) is None
    other.create(f"{base}/later", b"x")
    ev = events.get(timeout=WAIT)
    assert (ev.type, ev.path) == (EventType.CREATED, f"{base}/later")
    kz.exists(f"{base}/later", watch=events.put)
    other.set(f"{base}/later", b"y")
    assert events.get(timeout=WAIT).type == EventType.CHANGED


def test_child_watch(kz, kazoo_factory, base):
    other = kazoo_factory()
    events = queue.Queue()
    assert kz.get_children(base, watch=events.put) == []
    other.create(f"{base}/c1")
    ev = events.get(timeout=WAIT)
    assert (ev.type, ev.path) == (EventType.CHILD, base)
    kz.get_children(base, watch=events.put)
    other.set(f"{base}/c1", b"data")  # child data changes do not fire child watches
    with pytest.raises(queue.Empty):
        events.get(timeout=0.5)
    other.delete(f"{base}/c1")
    assert events.get(timeout=WAIT).type == EventType.CHILD
    kz.get_children(base, watch=events.put)
    other.delete(base)
    assert events.get(timeout=WAIT).type == EventType.DELETED


def test_persistent_watch(zk, kz, base):
    kz.create(f"{base}/p")
    with jute.connected(zk.port) as c:
        assert c.add_watch(f"{base}/p", jute.ADD_WATCH_PERSISTENT)["err"] == 0
        c.create(f"{base}/p/x")
        c.set(f"{base}/p", b"1")
        c.set(f"{base}/p", b"2")
        c.set(f"{base}/p/x", b"child data: no event")
        c.create(f"{base}/p/x/y")  # grandchild: no event
        c.delete(f"{base}/p/x/y")
        c.delete(f"{base}/p/x")
        c.ping()
        got = [(e["type"], e["path"]) for e in c.take_events()]
        p = f"{base}/p"
        assert got == [(4, p), (3, p), (3, p), (4, p)]
        # removeWatches with type Any removes it; no more events
        assert c.call(jute.REMOVE_WATCHES, jute.path_int_body(p, jute.WATCH_ANY))["err"] == 0
        c.set(p, b"3")
        c.ping()
        assert c.take_events() == []


def test_persistent_recursive_watch(zk, kz, base):
    r = f"{base}/r"
    with jute.connected(zk.port) as c:
        assert c.add_watch(r, jute.ADD_WATCH_PERSISTENT_RECURSIVE)["err"] == 0
        c.create(r)
        c.create(f"{r}/a")
        c.create(f"{r}/a/b", b"1")
        c.set(f"{r}/a/b", b"2")
        c.delete(f"{r}/a/b")
        c.set(r, b"top")
        c.ping()
        got = [(e["type"], e["path"]) for e in c.take_events()]
        assert got == [(1, r), (1, f"{r}/a"), (1, f"{r}/a/b"), (3, f"{r}/a/b"), (2, f"{r}/a/b"),
                       (3, r)]  # never NodeChildrenChanged
        # other clients' changes arrive too
        kz.create(f"{r}/a/c")
        assert wait_until(lambda: (c.ping(), c.events)[1] != [])
        assert [(e["type"], e["path"]) for e in c.take_events()] == [(1, f"{r}/a/c")]


def test_multi_success_and_results(kz, base):
    kz.create(f"{base}/v", b"0")
    t = kz.transaction()
    t.create(f"{base}/m1", b"a")
    t.create(f"{base}/m-", b"b", sequence=True)
    t.check(f"{base}/v", 0)
    t.set_data(f"{base}/v", b"1")
    t.delete(f"{base}/m1")
    results = t.commit()
    assert results[0] == f"{base}/m1"
    assert results[1] == f"{base}/m-0000000002"
    assert results[2] is True
    assert results[3].version == 1
    assert results[4] is True
    assert sorted(kz.get_children(base)) == ["m-0000000002", "v"]


def test_multi_is_all_or_nothing(kz, base):
    kz.create(f"{base}/v", b"0")
    t = kz.transaction()
    t.create(f"{base}/new", b"a")
    t.set_data(f"{base}/v", b"changed")
    t.check(f"{base}/v", 5)  # wrong version: fails
    t.delete(f"{base}/v")
    results = t.commit()
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], RolledBackError)
    assert isinstance(results[2], BadVersionError)
    assert isinstance(results[3], RuntimeInconsistency)
    assert kz.exists(f"{base}/new") is None
    data, st = kz.get(f"{base}/v")
    assert data == b"0" and st.version == 0


def test_digest_auth_and_acls(kazoo_factory, kz, base):
    owner = kazoo_factory(auth_data=[("digest", "user1:pass1")])
    stranger = kazoo_factory()
    wrong = kazoo_factory(auth_data=[("digest", "user1:wrong")])
    admin = kazoo_factory(auth_data=[("digest", "super:test")])
    acl = [make_digest_acl("user1", "pass1", all=True)]
    secret = f"{base}/secret"
    owner.create(secret, b"s3cret", acl=acl)
    assert owner.get(secret)[0] == b"s3cret"
    for client in (stranger, wrong):
        with pytest.raises(NoAuthError):
            client.get(secret)
        with pytest.raises(NoAuthError):
            client.set(secret, b"x")
        with pytest.raises(NoAuthError):
            client.create(f"{secret}/child")
        with pytest.raises(NoAuthError):
            client.get_children(secret)
        with pytest.raises(NoAuthError):
            client.set_acls(secret, OPEN_ACL_UNSAFE)
    # the superDigest user bypasses every ACL
    assert admin.get(secret)[0] == b"s3cret"
    admin.create(f"{secret}/by-super")
    admin.set(secret, b"changed by super")
    acls, st = owner.get_acls(secret)
    assert [(a.perms, a.id.scheme, a.id.id) for a in acls] == [
        (31, "digest", "user1:+7K83PhyQ3ijGj0ADmljf0quVwQ=")]
    # read-only for the world, all for user1: strangers can read, not write
    mixed = [make_digest_acl("user1", "pass1", all=True), WORLD_READ]
    owner.create(f"{base}/pub", b"p", acl=mixed)
    assert stranger.get(f"{base}/pub")[0] == b"p"
    with pytest.raises(NoAuthError):
        stranger.set(f"{base}/pub", b"x")
    owner.set(f"{base}/pub", b"y")
    # add_auth on a live connection grants access
    stranger.add_auth("digest", "user1:pass1")
    assert stranger.get(secret)[0] == b"changed by super"
    # ACL change bumps aversion; a stale version is rejected
    with pytest.raises(BadVersionError):
        owner.set_acls(secret, OPEN_ACL_UNSAFE, version=5)
    st2 = owner.set_acls(secret, OPEN_ACL_UNSAFE, version=st.aversion)
    assert st2.aversion == st.aversion + 1
    assert kz.get(secret)[0] == b"changed by super"


def test_getacl_masks_digest_without_admin(kazoo_factory, base):
    owner = kazoo_factory(auth_data=[("digest", "user1:pass1")])
    stranger = kazoo_factory()
    acl = [make_digest_acl("user1", "pass1", all=True), WORLD_READ]
    owner.create(f"{base}/masked", acl=acl)
    acls, _ = stranger.get_acls(f"{base}/masked")
    assert sorted((a.perms, a.id.scheme, a.id.id) for a in acls) == [
        (1, "world", "anyone"), (31, "digest", "user1:x")]


def test_auth_scheme_acl_and_whoami(zk, base):
    with jute.connected(zk.port) as c:
        assert c.auth("digest", "user1:pass1")["err"] == 0
        r = c.create(f"{base}/auth", acl=[(17, "auth", "")])
        assert r["err"] == 0
        acl = c.call(jute.GET_ACL, jute.path_body(f"{base}/auth"))["acl"]
        assert acl == [(17, "digest", "user1:+7K83PhyQ3ijGj0ADmljf0quVwQ=")]
        who = c.call(jute.WHO_AM_I)["clientInfo"]
        assert ("digest", "user1") in who and ("ip", "127.0.0.1") in who
    with jute.connected(zk.port) as c:
        # no authenticated id: the auth scheme is an invalid ACL
        assert c.create(f"{base}/auth2", acl=[(31, "auth", "")])["err"] == jute.INVALIDACL
        assert c.create(f"{base}/auth3", acl=[])["err"] == jute.INVALIDACL
        assert c.auth("digest", "super:test")["err"] == 0
        assert ("super", "") in c.call(jute.WHO_AM_I)["clientInfo"]


def test_unknown_auth_scheme_fails_and_closes(zk):
    with jute.connected(zk.port) as c:
        assert c.auth("nosuchscheme", "x")["err"] == jute.AUTHFAILED
        assert c.wait_closed(5.0)


def test_session_reconnect_keeps_ephemerals(zk, kazoo_factory, kz, base):
    proxy = DropProxy(zk.port)
    try:
        states = []
        client = KazooClient(hosts=proxy.hosts, timeout=10.0)
        client.add_listener(states.append)
        client.start(timeout=15)
        try:
            sid = client.client_id[0]
            client.create(f"{base}/eph", b"mine", ephemeral=True)
            proxy.drop_all()
            assert wait_until(lambda: KazooState.SUSPENDED in states, timeout=10)
            assert wait_until(lambda: states[-1] == KazooState.CONNECTED and proxy.accepted >= 2,
                              timeout=15)
            assert client.client_id[0] == sid, "the session was not resumed"
            st = kz.exists(f"{base}/eph")
            assert st is not None and st.ephemeralOwner == sid
            assert KazooState.LOST not in states
            assert client.get(f"{base}/eph")[0] == b"mine"
        finally:
            client.stop()
            client.close()
        assert wait_until(lambda: kz.exists(f"{base}/eph") is None)
    finally:
        proxy.close()


def test_raw_session_resume_with_password(zk, base):
    a = jute.connected(zk.port, timeout_ms=20000)
    try:
        assert a.create(f"{base}/e", flags=jute.EPHEMERAL)["err"] == 0
        sid, pw = a.session_id, a.passwd
    finally:
        a.close()  # socket only; the session lives on
    with jute.Conn(zk.port) as bad:
        resp = bad.connect(session_id=sid, passwd=b"\x01" * 16)
        assert resp["timeOut"] == 0 and resp["sessionId"] == 0
        assert bad.wait_closed(5.0)
    with jute.Conn(zk.port) as b:
        resp = b.connect(session_id=sid, passwd=pw, timeout_ms=20000)
        assert resp["sessionId"] == sid and resp["timeOut"] > 0
        assert b.call(jute.GET_EPHEMERALS, jute.path_body(base))["ephemerals"] == [f"{base}/e"]
        assert b.close_session()["err"] == 0
    with jute.connected(zk.port) as c:
        assert c.exists(f"{base}/e")["err"] == jute.NONODE
        resp = jute.Conn(zk.port)
        try:
            r = resp.connect(session_id=sid, passwd=pw)
            assert r["timeOut"] == 0 and r["sessionId"] == 0  # closed session cannot resume
        finally:
            resp.close()


def test_session_timeout_negotiation(zk):
    for requested, expected in ((1, 4000), (10000, 10000), (100000, 40000)):
        with jute.Conn(zk.port) as c:
            assert c.connect(timeout_ms=requested)["timeOut"] == expected
            c.close_session()


def test_container_node(zk, kz, base):
    with jute.connected(zk.port) as c:
        r = c.create(f"{base}/cont", b"c", op=jute.CREATE_CONTAINER, flags=jute.CONTAINER)
        assert r["err"] == 0 and r["path"] == f"{base}/cont"
        assert r["stat"]["ephemeralOwner"] == 0
    # never-used containers survive the reaper; used-then-emptied ones are deleted
    kz.create(f"{base}/cont/child")
    kz.delete(f"{base}/cont/child")
    assert wait_until(lambda: kz.exists(f"{base}/cont") is None, timeout=10), \
        "emptied container was not reaped"


def test_ttl_node(zk, kz, base):
    with jute.connected(zk.port) as c:
        r = c.create(f"{base}/ttl", b"t", op=jute.CREATE_TTL, flags=jute.PERSISTENT_WITH_TTL, ttl=500)
        assert r["err"] == 0 and r["stat"]["ephemeralOwner"] == 0
        r = c.create(f"{base}/ttls-", op=jute.CREATE_TTL, flags=jute.PERSISTENT_SEQUENTIAL_WITH_TTL,
                     ttl=60000)
        assert r["err"] == 0 and r["path"] == f"{base}/ttls-0000000001"
        assert c.create(f"{base}/bad", op=jute.CREATE_TTL, flags=jute.PERSISTENT_WITH_TTL,
                        ttl=0)["err"] == jute.BADARGUMENTS
        assert c.create(f"{base}/bad", op=jute.CREATE_TTL, flags=jute.PERSISTENT, ttl=100)["err"] \
            == jute.BADARGUMENTS
        assert c.create(f"{base}/bad", op=jute.CREATE2, flags=jute.PERSISTENT_WITH_TTL)["err"] \
            == jute.BADARGUMENTS
    assert wait_until(lambda: kz.exists(f"{base}/ttl") is None, timeout=10), "TTL node not reaped"
    assert kz.exists(f"{base}/ttls-0000000001") is not None


def test_ttl_disabled_by_default(zk_factory):
    srv = zk_factory({"extendedTypesEnabled": "false"})
    with jute.connected(srv.port) as c:
        r = c.create("/ttl", op=jute.CREATE_TTL, flags=jute.PERSISTENT_WITH_TTL, ttl=1000)
        assert r["err"] == jute.UNIMPLEMENTED


def test_set_watches_after_reconnect(zk, kz, base):
    """kazoo drops its watches on disconnect, so re-registration (setWatches, op 101) is driven
    by the raw client: changes made while disconnected produce synthetic events."""
    kz.create(f"{base}/d", b"0")
    kz.create(f"{base}/c")
    kz.create(f"{base}/gone")
    a = jute.connected(zk.port, timeout_ms=20000)
    try:
        a.get(f"{base}/d", watch=True)
        a.exists(f"{base}/m", watch=True)
        a.children(f"{base}/c", watch=True)
        a.get(f"{base}/gone", watch=True)
        last_zxid = a.ping()["zxid"]
        sid, pw = a.session_id, a.passwd
    finally:
        a.close()
    kz.set(f"{base}/d", b"1")
    kz.create(f"{base}/m")
    kz.delete(f"{base}/gone")
    with jute.Conn(zk.port) as b:
        assert b.connect(session_id=sid, passwd=pw, last_zxid=last_zxid)["sessionId"] == sid
        body = jute.Writer().long(last_zxid).strings([f"{base}/d", f"{base}/gone"]) \
            .strings([f"{base}/m"]).strings([f"{base}/c"]).bytes()
        r = b.call(jute.SET_WATCHES, body, xid=-8)
        assert (r["xid"], r["err"]) == (-8, 0)
        got = sorted((e["type"], e["path"]) for e in b.take_events())
        assert got == sorted([(3, f"{base}/d"), (2, f"{base}/gone"), (1, f"{base}/m")])
        kz.create(f"{base}/c/new")  # the child watch was re-registered silently
        b.ping()
        assert [(e["type"], e["path"]) for e in b.take_events()] == [(4, f"{base}/c")]
        b.close_session()


def test_chroot(zk, kz, base):
    chrooted = KazooClient(hosts=f"{zk.hosts}{base}", timeout=10.0)
    chrooted.start(timeout=15)
    try:
        events = queue.Queue()
        assert chrooted.create("/x", b"in chroot") == "/x"
        assert kz.get(f"{base}/x")[0] == b"in chroot"
        assert chrooted.get_children("/") == ["x"]
        chrooted.get("/x", watch=events.put)
        kz.set(f"{base}/x", b"changed")
        ev = events.get(timeout=WAIT)
        assert (ev.type, ev.path) == (EventType.CHANGED, "/x")
        assert chrooted.create("/s-", sequence=True) == "/s-0000000001"
    finally:
        chrooted.stop()
        chrooted.close()


def test_max_client_cnxns(zk_factory):
    srv = zk_factory({"maxClientCnxns": "3"})

    def admitted():
        """A new session; retried briefly while the readiness probes' closes are processed."""
        for _ in range(50):
            try:
                return jute.connected(srv.port)
            except (jute.Closed, OSError):
                time.sleep(0.1)
        raise AssertionError("connection refused below maxClientCnxns")

    conns = [admitted() for _ in range(3)]
    try:
        extra = jute.Conn(srv.port)
        try:
            extra.send_frame(jute.connect_body())
            with pytest.raises((jute.Closed, OSError)):
                extra.recv_frame()
        finally:
            extra.close()
        for c in conns:  # the admitted connections are unaffected
            assert c.exists("/zookeeper")["err"] == 0
        conns.pop().close_session()
        with admitted() as again:  # the freed slot can be used again
            assert again.exists("/zookeeper")["err"] == 0
    finally:
        for c in conns:
            c.close()


def test_session_timeout_bounds_from_config(zk_factory):
    srv = zk_factory({"tickTime": "1000", "minSessionTimeout": "3000", "maxSessionTimeout": "9000"})
    for requested, expected in ((1, 3000), (5000, 5000), (100000, 9000)):
        with jute.Conn(srv.port) as c:
            assert c.connect(timeout_ms=requested)["timeOut"] == expected
            c.close_session()


def test_session_timeout_defaults_follow_tick_time(zk_factory):
    srv = zk_factory({"tickTime": "1000"}, omit=["minSessionTimeout", "maxSessionTimeout"])
    for requested, expected in ((1, 2000), (100000, 20000)):
        with jute.Conn(srv.port) as c:
            assert c.connect(timeout_ms=requested)["timeOut"] == expected
            c.close_session()


@pytest.mark.slow
def test_session_expiry_deletes_ephemerals(zk, kz, base):
    a = jute.connected(zk.port, timeout_ms=4000)
    try:
        assert a.create(f"{base}/eph", flags=jute.EPHEMERAL)["err"] == 0
        sid, pw = a.session_id, a.passwd
    finally:
        a.close()  # no closeSession: the session has to expire
    gone = queue.Queue()
    dropped_at = time.monotonic()
    assert kz.exists(f"{base}/eph", watch=gone.put) is not None
    ev = gone.get(timeout=15)
    waited = time.monotonic() - dropped_at
    assert ev.type == EventType.DELETED
    assert 2.0 < waited < 12.0, f"4 s session expired after {waited:.1f} s"
    with jute.Conn(zk.port) as late:
        resp = late.connect(session_id=sid, passwd=pw)
        assert resp["timeOut"] == 0 and resp["sessionId"] == 0 and resp["passwd"] == b"\0" * 16
        assert late.wait_closed(5.0)


@pytest.mark.slow
def test_pings_keep_a_session_alive(zk, kz, base):
    with jute.connected(zk.port, timeout_ms=4000) as a:
        assert a.create(f"{base}/eph", flags=jute.EPHEMERAL)["err"] == 0
        for _ in range(8):  # 8 s, twice the session timeout
            time.sleep(1.0)
            assert a.ping()["err"] == 0
        assert kz.exists(f"{base}/eph") is not None
        assert a.get(f"{base}/eph")["err"] == 0
        a.close_session()
    assert kz.exists(f"{base}/eph") is None


def test_many_children_and_large_replies(zk, kz, base):
    with jute.connected(zk.port) as c:
        for start in range(0, 5000, 1000):
            ops = [(jute.CREATE, jute.create_body(f"{base}/child-with-a-longish-name-{i:05d}"))
                   for i in range(start, start + 1000)]
            r = c.call(jute.MULTI, jute.multi_body(ops))
            assert all(x["err"] == 0 for x in r["results"])
    children = kz.get_children(base)
    assert len(children) == 5000 and len(set(children)) == 5000
    assert kz.exists(base).numChildren == 5000


def test_multi_near_the_frame_limit(zk, kz, base):
    with jute.connected(zk.port) as c:
        ops = [(jute.CREATE, jute.create_body(f"{base}/big{i}", b"x" * 100_000)) for i in range(10)]
        r = c.call(jute.MULTI, jute.multi_body(ops))  # about 1,000,600 bytes in one frame
        assert [x["err"] for x in r["results"]] == [0] * 10
    assert kz.get(f"{base}/big9")[0] == b"x" * 100_000
    with jute.connected(zk.port) as c:
        ops = [(jute.CREATE, jute.create_body(f"{base}/huge{i}", b"x" * 100_000)) for i in range(11)]
        try:
            c.send_request(jute.MULTI, jute.multi_body(ops))  # over 1 MiB: refused
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert c.wait_closed(5.0)
    assert kz.exists(f"{base}/huge0") is None


def test_handshake_pipelined_with_auth_and_requests(zk, kz, base):
    """Like the Java client: ConnectRequest, auth and a request are sent back to back before
    the ConnectResponse arrives; the server answers them in order."""
    from kazoo.security import make_digest_acl

    owner = KazooClient(hosts=zk.hosts, auth_data=[("digest", "user1:pass1")])
    owner.start(timeout=15)
    try:
        owner.create(f"{base}/sec", b"pipelined", acl=[make_digest_acl("user1", "pass1", all=True)])
    finally:
        owner.stop()
        owner.close()
    with jute.Conn(zk.port) as c:
        frames = [jute.connect_body(),
                  struct.pack(">ii", -4, jute.AUTH) + jute.auth_body("digest", b"user1:pass1"),
                  struct.pack(">ii", 1, jute.GET_DATA) + jute.path_body(f"{base}/sec", False)]
        c.send_raw(b"".join(struct.pack(">i", len(f)) + f for f in frames))
        resp = jute.Reader(c.recv_frame())
        assert resp.int() == 0 and resp.int() > 0 and resp.long() != 0
        xid, _, err, _ = c.read_reply()
        assert (xid, err) == (-4, 0)
        xid, _, err, body = c.read_reply()
        assert (xid, err) == (1, 0)
        assert jute.decode_body(jute.GET_DATA, body)["data"] == b"pipelined"


def test_set_watches2_reregisters_persistent_watches(zk, kz, base):
    kz.create(f"{base}/p")
    a = jute.connected(zk.port, timeout_ms=20000)
    try:
        assert a.add_watch(f"{base}/p", jute.ADD_WATCH_PERSISTENT_RECURSIVE)["err"] == 0
        last = a.ping()["zxid"]
        sid, pw = a.session_id, a.passwd
    finally:
        a.close()
    kz.create(f"{base}/p/while-away")  # persistent watches get no synthetic events
    with jute.Conn(zk.port) as b:
        assert b.connect(session_id=sid, passwd=pw, last_zxid=last)["sessionId"] == sid
        body = jute.Writer().long(last).strings([]).strings([]).strings([]).strings([]) \
            .strings([f"{base}/p"]).bytes()
        r = b.call(105, body, xid=-8)
        assert (r["xid"], r["err"]) == (-8, 0)
        assert b.take_events() == []
        kz.create(f"{base}/p/after")
        kz.set(f"{base}/p/while-away", b"x")
        b.ping()
        assert [(e["type"], e["path"]) for e in b.take_events()] == [
            (1, f"{base}/p/after"), (3, f"{base}/p/while-away")]
        b.close_session()


def test_data_just_under_the_frame_limit(kz, base):
    data = bytes(range(256)) * 4095  # 1,048,320 bytes: the request frame stays under 1 MiB
    kz.create(f"{base}/max", data)
    got, stat = kz.get(f"{base}/max")
    assert got == data and stat.dataLength == len(data)
