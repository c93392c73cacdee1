"""Ordering and visibility across pipelined requests and concurrent sessions."""
import jute

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
