"""Ordering and visibility across pipelined requests and concurrent sessions."""
from zktest import jute

ROUNDS = 300


def test_conflict_errors_do_not_overtake_the_conflicting_write(zk, base):
    """Two sessions race to create (and later delete) the same node. When one session is told
    NODEEXISTS (or NONODE for the delete), the write that caused it has been applied, so that
    session's next read must see it: an error reply may not overtake the winning write."""
    a, b = jute.connected(zk.port), jute.connected(zk.port)
    try:
        anomalies = []
        for i in range(ROUNDS):
            p = f"{base}/race{i}"
            xa = a.send_request(jute.CREATE, jute.create_body(p))
            xb = b.send_request(jute.CREATE, jute.create_body(p))
            xg = b.send_request(jute.EXISTS, jute.path_body(p, False))
            ra, rb, rg = a.wait_reply(xa), b.wait_reply(xb), b.wait_reply(xg)
            assert sorted([ra[2], rb[2]]) == [jute.NODEEXISTS, 0], (ra, rb)  # exactly one winner
            if rb[2] == jute.NODEEXISTS and rg[2] != 0:
                anomalies.append(f"{p}: create -> NODEEXISTS, then exists -> {rg[2]}")
            xa = a.send_request(jute.DELETE, jute.path_int_body(p, -1))
            xb = b.send_request(jute.DELETE, jute.path_int_body(p, -1))
            xg = b.send_request(jute.EXISTS, jute.path_body(p, False))
            ra, rb, rg = a.wait_reply(xa), b.wait_reply(xb), b.wait_reply(xg)
            if rb[2] == jute.NONODE and rg[2] != jute.NONODE:
                anomalies.append(f"{p}: delete -> NONODE, then exists -> {rg[2]}")
        assert not anomalies, (f"{len(anomalies)} of {2 * ROUNDS} races broke read-your-writes, "
                               f"e.g. {anomalies[:3]}")
    finally:
        a.close()
        b.close()


def test_pipelined_replies_come_back_in_order(zk, base):
    with jute.connected(zk.port) as c:
        sent = []
        for i in range(200):
            kind = i % 4
            if kind == 0:
                sent.append(c.send_request(jute.CREATE, jute.create_body(f"{base}/p{i}", b"x")))
            elif kind == 1:
                sent.append(c.send_request(jute.GET_DATA, jute.path_body(f"{base}/p{i - 1}", False)))
            elif kind == 2:
                sent.append(c.send_request(jute.SET_DATA, jute.set_data_body(f"{base}/p{i - 2}", b"y")))
            else:
                sent.append(c.send_request(jute.EXISTS, jute.path_body(f"{base}/missing{i}", False)))
        replies = [c.read_reply() for _ in sent]
        assert [r[0] for r in replies] == sent, "replies out of request order"
        zxids = [r[1] for r in replies]
        assert zxids == sorted(zxids), "reply zxids went backwards"
        errs = [r[2] for r in replies]
        assert errs == [0, 0, 0, jute.NONODE] * 50
        # each read saw the create just before it
        assert all(jute.decode_body(jute.GET_DATA, r[3])["data"] == b"x" for r in replies[1::4])


def test_acknowledged_writes_are_visible_to_other_sessions(zk, base):
    """Once a write's reply has arrived, a read sent afterwards on another session sees it."""
    a, b = jute.connected(zk.port), jute.connected(zk.port)
    try:
        assert b.create(f"{base}/v", b"-1")["err"] == 0
        stale = []
        for i in range(ROUNDS):
            assert b.set(f"{base}/v", str(i).encode())["err"] == 0
            r = a.get(f"{base}/v")
            if r["data"] != str(i).encode():
                stale.append((i, r["data"]))
            p = f"{base}/c{i}"
            assert b.create(p)["err"] == 0
            if a.exists(p)["err"] != 0:
                stale.append((i, "create not visible"))
        assert not stale, f"{len(stale)} stale reads after acknowledged writes, e.g. {stale[:3]}"
    finally:
        a.close()
        b.close()


def test_closed_session_ephemerals_are_gone_when_close_is_acknowledged(zk, base):
    with jute.connected(zk.port) as a:
        leftovers = []
        for i in range(100):
            p = f"{base}/e{i}"
            with jute.connected(zk.port) as b:
                assert b.create(p, flags=jute.EPHEMERAL)["err"] == 0
                assert b.close_session()["err"] == 0
            r = a.create(p)
            if r["err"] != 0:
                leftovers.append((p, r["err"]))
            a.delete(p)
        assert not leftovers, f"ephemerals still present after closeSession replied: {leftovers[:3]}"


def test_watch_event_precedes_replies_with_higher_zxid(zk, base):
    """A connection gets a watch event before any reply whose zxid is at or past the change."""
    a, b = jute.connected(zk.port), jute.connected(zk.port)
    try:
        assert b.create(f"{base}/w", b"0")["err"] == 0
        late = []
        for i in range(ROUNDS // 2):
            assert a.get(f"{base}/w", watch=True)["err"] == 0
            change = b.set(f"{base}/w", str(i).encode())
            write_zxid = change["zxid"]
            a.take_events()
            for _ in range(100):
                r = a.exists(f"{base}/other", watch=False)
                seen = any(e["path"] == f"{base}/w" and e["type"] == 3 for e in a.take_events())
                if seen:
                    break
                if r["zxid"] >= write_zxid:
                    late.append((i, r["zxid"], write_zxid))
                    # drain the event so the next round starts clean
                    a.ping()
                    a.take_events()
                    break
            else:
                late.append((i, "no event after 100 reads", write_zxid))
        assert not late, f"{len(late)} replies at or past the change came before its event: {late[:3]}"
    finally:
        a.close()
        b.close()


def test_watch_fan_out_to_many_sessions(zk, base):
    watchers = [jute.connected(zk.port) for _ in range(50)]
    try:
        with jute.connected(zk.port) as writer:
            assert writer.create(f"{base}/fan", b"0")["err"] == 0
            for w in watchers:
                assert w.get(f"{base}/fan", watch=True)["err"] == 0
                assert w.children(f"{base}/fan", watch=True)["err"] == 0
            assert writer.set(f"{base}/fan", b"1")["err"] == 0
            assert writer.create(f"{base}/fan/c")["err"] == 0
            assert writer.set(f"{base}/fan", b"2")["err"] == 0  # watches are one-shot: no event
        for i, w in enumerate(watchers):
            w.ping()
            got = [(e["type"], e["path"]) for e in w.take_events()]
            assert got == [(3, f"{base}/fan"), (4, f"{base}/fan")], (i, got)
    finally:
        for w in watchers:
            w.close()


def test_concurrent_pipelined_sessions(zk, base):
    """Ten sessions pipeline 200 creates each at the same time; every reply is in order and
    every node exists exactly once."""
    import threading

    conns = [jute.connected(zk.port) for _ in range(10)]
    problems = []

    def run(k, c):
        try:
            xids = [c.send_request(jute.CREATE, jute.create_body(f"{base}/s{k}-{i:03d}"))
                    for i in range(200)]
            replies = [c.read_reply() for _ in xids]
            if [r[0] for r in replies] != xids or any(r[2] != 0 for r in replies):
                problems.append((k, [r[:3] for r in replies[:3]]))
        except Exception as exc:  # noqa: B902 - collected for the assertion
            problems.append((k, repr(exc)))

    threads = [threading.Thread(target=run, args=(k, c), daemon=True) for k, c in enumerate(conns)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not problems, problems[:3]
        with jute.connected(zk.port) as c:
            assert sorted(c.children(base)["children"]) == sorted(
                f"s{k}-{i:03d}" for k in range(10) for i in range(200))
    finally:
        for c in conns:
            c.close()


def test_resuming_a_session_elsewhere_closes_the_old_connection(zk, base):
    a = jute.connected(zk.port, timeout_ms=20000)
    try:
        assert a.create(f"{base}/eph", flags=jute.EPHEMERAL)["err"] == 0
        with jute.Conn(zk.port) as b:
            assert b.connect(session_id=a.session_id, passwd=a.passwd)["sessionId"] == a.session_id
            assert a.wait_closed(5.0), "the old connection of a moved session stayed open"
            assert b.exists(f"{base}/eph")["stat"]["ephemeralOwner"] == a.session_id
            assert b.close_session()["err"] == 0
    finally:
        a.close()
    with jute.connected(zk.port) as c:
        assert c.exists(f"{base}/eph")["err"] == jute.NONODE
