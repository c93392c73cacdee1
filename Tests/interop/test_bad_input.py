"""Malformed and hostile input on the wire. Each case checks the reply (or the disconnect) that
shared/docs/zk-protocol.md describes, that a client connected at the same time keeps working,
and that znodes stored beforehand are intact."""
import struct

import pytest

from zktest import jute

PRECIOUS = b"precious data"


@pytest.fixture
def setup(zk, kz, base):
    """Stored znodes plus a bystander session opened before the bad input arrives."""
    kz.create(f"{base}/keep", PRECIOUS)
    kz.create(f"{base}/keep/child", b"c")
    bystander = jute.connected(zk.port)
    before = bystander.get(f"{base}/keep")
    assert before["err"] == 0
    yield zk, base, bystander
    try:
        after = bystander.get(f"{base}/keep")
        assert after["err"] == 0, "the bystander session stopped working"
        assert after["data"] == PRECIOUS and after["stat"] == before["stat"], "stored znode changed"
        assert bystander.children(f"{base}/keep")["children"] == ["child"]
        assert bystander.create(f"{base}/after-bad-input")["err"] == 0
        with jute.connected(zk.port) as fresh:
            assert fresh.get(f"{base}/keep/child")["data"] == b"c"
    finally:
        bystander.close()


def raw(zk):
    return jute.Conn(zk.port)


def test_garbage_http_request(setup):
    zk, base, _ = setup
    with raw(zk) as c:
        c.send_raw(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # "GET " as a length: too big
        assert c.wait_closed(5.0)


def test_garbage_short_frame_before_handshake(setup):
    zk, base, _ = setup
    with raw(zk) as c:
        c.send_raw(struct.pack(">i", 8) + b"\x13\x37\xc0\xde\xba\xad\xf0\x0d")
        assert c.wait_closed(5.0)


def test_request_before_handshake(setup):
    zk, base, _ = setup
    with raw(zk) as c:
        c.send_request(jute.GET_DATA, jute.path_body(f"{base}/keep", False))
        assert c.wait_closed(5.0)


def test_negative_length(setup):
    zk, base, _ = setup
    with jute.connected(zk.port) as c:
        c.send_raw(struct.pack(">i", -16) + b"\x00" * 16)
        assert c.wait_closed(5.0)


def test_oversized_length(setup):
    zk, base, _ = setup
    with jute.connected(zk.port) as c:
        c.send_raw(struct.pack(">i", 1024 * 1024 + 1) + b"\x00" * 64)
        assert c.wait_closed(5.0), "a frame longer than jute.maxbuffer was not refused"


def test_oversized_length_before_handshake(setup):
    zk, base, _ = setup
    with raw(zk) as c:
        c.send_raw(struct.pack(">i", 0x7FFFFFFF))
        assert c.wait_closed(5.0)


def test_truncated_record_gets_marshalling_error(setup):
    zk, base, _ = setup
    with jute.connected(zk.port) as c:
        # getData without its watch boolean
        r = c.call(jute.GET_DATA, jute.Writer().ustring(f"{base}/keep").bytes())
        assert (r["xid"], r["err"]) == (1, jute.MARSHALLINGERROR)
        # setData without its version
        r = c.call(jute.SET_DATA, jute.Writer().ustring(f"{base}/keep").buffer(b"x").bytes())
        assert r["err"] == jute.MARSHALLINGERROR
        # create whose ACL vector claims more entries than follow
        body = jute.Writer().ustring(f"{base}/t").buffer(b"").int(3).int(31).ustring("world").bytes()
        assert c.call(jute.CREATE, body)["err"] == jute.MARSHALLINGERROR
        # the connection is kept
        assert c.ping()["err"] == 0
        assert c.get(f"{base}/keep")["data"] == PRECIOUS
        assert c.exists(f"{base}/t")["err"] == jute.NONODE


def test_unknown_opcode(setup):
    zk, base, _ = setup
    with jute.connected(zk.port) as c:
        xid = c.send_request(999, b"\x00\x01\x02")
        rxid, zxid, err, body = c.wait_reply(xid)
        assert (rxid, err, body) == (xid, jute.UNIMPLEMENTED, b"")


def test_bad_paths(setup):
    zk, base, _ = setup
    with jute.connected(zk.port) as c:
        assert c.create("noslash")["err"] == jute.BADARGUMENTS
        assert c.create("")["err"] == jute.BADARGUMENTS
        assert c.create(f"{base}/keep/")["err"] == jute.BADARGUMENTS  # parent exists: path check
        assert c.create(f"{base}/./x")["err"] == jute.NONODE
        assert c.create(f"{base}/.")["err"] == jute.BADARGUMENTS
        assert c.create(f"{base}/..")["err"] == jute.BADARGUMENTS
        assert c.create(f"{base}/a\x01b")["err"] == jute.BADARGUMENTS
        assert c.create(f"{base}//x")["err"] == jute.NONODE  # parent "<base>/" does not exist
        assert c.create(f"{base}/keep//x")["err"] == jute.NONODE
        assert c.get("noslash")["err"] == jute.NONODE
        assert c.get(f"{base}//keep")["err"] == jute.NONODE
        assert c.set("noslash", b"x")["err"] in (jute.BADARGUMENTS, jute.NONODE)
        assert c.delete(f"{base}//keep")["err"] in (jute.BADARGUMENTS, jute.NONODE)
        assert c.delete("/")["err"] == jute.BADARGUMENTS
        assert c.delete("/zookeeper")["err"] == jute.BADARGUMENTS
        assert c.create("/zookeeper")["err"] == jute.NODEEXISTS
        assert c.create(f"{base}/a.b")["err"] == 0
        assert c.create(f"{base}/...")["err"] == 0
        assert c.ping()["err"] == 0


def test_bad_create_flags_and_acl(setup):
    zk, base, _ = setup
    with jute.connected(zk.port) as c:
        assert c.create(f"{base}/f7", flags=7)["err"] == jute.BADARGUMENTS
        assert c.create(f"{base}/f-1", flags=-1)["err"] == jute.BADARGUMENTS
        assert c.create(f"{base}/acl", acl=[])["err"] == jute.INVALIDACL
        assert c.create(f"{base}/acl", acl=[(31, "nosuch", "x")])["err"] == jute.INVALIDACL
        assert c.create(f"{base}/acl", acl=[(31, "digest", "nocolon")])["err"] == jute.INVALIDACL
        assert c.exists(f"{base}/acl")["err"] == jute.NONODE


def test_two_mib_set_data(setup):
    zk, base, _ = setup
    with jute.connected(zk.port) as c:
        try:
            c.send_request(jute.SET_DATA, jute.set_data_body(f"{base}/keep", b"x" * (2 << 20)))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before it has read everything
        assert c.wait_closed(5.0), "a 2 MiB request was not refused"


def test_connect_without_read_only_byte(setup):
    zk, base, _ = setup
    with jute.Conn(zk.port) as c:
        resp = c.connect(with_read_only=False)
        assert resp["size"] == 36 and "readOnly" not in resp
        assert resp["sessionId"] != 0 and resp["timeOut"] > 0 and len(resp["passwd"]) == 16
        assert c.get(f"{base}/keep")["data"] == PRECIOUS
        assert c.create(f"{base}/old-client", b"ok")["err"] == 0
    with jute.Conn(zk.port) as c:
        resp = c.connect(with_read_only=True)
        assert resp["size"] == 37 and resp["readOnly"] is False


def test_client_ahead_of_server_is_refused(setup):
    zk, base, _ = setup
    with jute.Conn(zk.port) as c:
        c.send_frame(jute.connect_body(last_zxid=1 << 40))
        assert c.wait_closed(5.0)


def test_many_bad_connections_at_once(setup):
    zk, base, _ = setup
    conns = [jute.Conn(zk.port) for _ in range(20)]
    try:
        for i, c in enumerate(conns):
            c.send_raw([b"\xff\xff\xff\xff", b"GET / HTTP/1.0\r\n\r\n", struct.pack(">i", 3) + b"abc",
                        struct.pack(">i", 0x00200000)][i % 4])
        for c in conns:
            assert c.wait_closed(5.0)
    finally:
        for c in conns:
            c.close()


def test_mutated_requests_do_not_hurt_the_server(zk, kz, base):
    """Seeded random mutations of valid request frames, sent after a handshake. Whatever each
    one gets (a reply, an error, a disconnect), the server stays up, a protected znode is
    unchanged and a bystander session keeps working."""
    import random
    import time

    from kazoo.client import KazooClient
    from kazoo.security import make_digest_acl

    owner = KazooClient(hosts=zk.hosts, auth_data=[("digest", "user1:pass1")])
    owner.start(timeout=15)
    try:
        owner.create(f"{base}/vault", PRECIOUS, acl=[make_digest_acl("user1", "pass1", all=True)])
        before = owner.get(f"{base}/vault")
        kz.create(f"{base}/f")
        p = f"{base}/f/x"
        corpus = [
            struct.pack(">ii", 1, jute.CREATE) + jute.create_body(p, b"d", flags=3),
            struct.pack(">ii", 2, jute.GET_DATA) + jute.path_body(p, True),
            struct.pack(">ii", 3, jute.SET_DATA) + jute.set_data_body(p, b"zz", 0),
            struct.pack(">ii", 4, jute.SET_ACL) + jute.set_acl_body(p, jute.OPEN_ACL, -1),
            struct.pack(">ii", 5, jute.MULTI) + jute.multi_body(
                [(jute.CREATE, jute.create_body(p + "m")), (jute.DELETE, jute.path_int_body(p, -1))]),
            struct.pack(">ii", 6, jute.MULTI_READ) + jute.multi_body(
                [(jute.GET_DATA, jute.path_body(p, False))]),
            struct.pack(">ii", -4, jute.AUTH) + jute.auth_body("digest", b"fuzz:fuzz"),
            struct.pack(">ii", 7, jute.ADD_WATCH) + jute.path_int_body(p, 1),
            struct.pack(">ii", 8, jute.CREATE_TTL) + jute.create_body(p + "t", flags=5, ttl=1000),
            struct.pack(">ii", -8, jute.SET_WATCHES) + jute.Writer().long(0).strings([p])
            .strings([p]).strings([p]).bytes(),
            struct.pack(">ii", 9, jute.GET_EPHEMERALS) + jute.Writer().ustring(base).bytes(),
        ]
        rng = random.Random(20261122)
        bystander = jute.connected(zk.port)
        conn, sent = None, 0
        deadline = time.monotonic() + 30
        for _ in range(400):
            if time.monotonic() > deadline:
                break
            if conn is None:
                conn = jute.connected(zk.port)
            frame = bytearray(rng.choice(corpus))
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(frame))
                frame[i] = rng.choice([0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)])
            if rng.random() < 0.2:
                frame = frame[:rng.randrange(1, len(frame))]
            try:
                conn.send_frame(bytes(frame))
                conn.sock.settimeout(0.2)
                conn.recv_frame()  # a reply, if one comes quickly
                conn.sock.settimeout(conn.timeout)
            except (jute.Closed, OSError, ValueError):  # closed, or no quick reply: start over
                conn.close()
                conn = None
            sent += 1
        if conn is not None:
            conn.close()
        assert zk.running(), f"the server died under mutated input:\n{zk.log_tail()}"
        assert bystander.get(f"{base}/f")["err"] == 0
        bystander.close()
        assert owner.get(f"{base}/vault") == before
        assert sent >= 100, sent
    finally:
        owner.stop()
        owner.close()
