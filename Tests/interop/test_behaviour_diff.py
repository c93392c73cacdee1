"""Behaviour diff: one scripted sequence of raw requests is sent to the server under test and to
an Apache ZooKeeper reference server (both fresh); the normalised transcripts must be equal.

Normalised away: reply and Stat zxids, times and session ids (kept only as relations such as
"mzxid == czxid" and "owned by session A"). Kept: xids, error codes, Stat counters, data,
children (as sorted lists), ACLs, paths, and every watch event with its position relative to
the replies on the same connection."""
import difflib
import json

import pytest

from zktest import jute
from zktest.jute import (ADD_WATCH, CHECK, CHECK_WATCHES, CREATE, CREATE2, CREATE_CONTAINER, CREATE_TTL,
                         DELETE, EXISTS, GET_ACL, GET_ALL_CHILDREN_NUMBER, GET_CHILDREN, GET_CHILDREN2,
                         GET_DATA, GET_EPHEMERALS, MULTI, MULTI_READ, PING, REMOVE_WATCHES, SET_ACL,
                         SET_DATA, SYNC, WHO_AM_I, create_body, multi_body, path_body, path_int_body,
                         set_acl_body, set_data_body)

USER1_ACL = [(31, "digest", "user1:+7K83PhyQ3ijGj0ADmljf0quVwQ=")]


def script():
    """Main script: (connection, label, opcode, body, xid) steps; connection 'A' or 'B'; xid None
    lets Conn number the request."""
    s = []

    def add(conn, label, op, body=b"", xid=None):
        s.append((conn, label, op, body, xid))

    add("A", "create /d", CREATE, create_body("/d", b"data"))
    add("A", "create2 /d/c1", CREATE2, create_body("/d/c1", b"c1"))
    for i in range(3):
        add("A", f"create seq /d/s- #{i}", CREATE, create_body("/d/s-", b"", flags=2))
    add("A", "create existing /d", CREATE, create_body("/d"))
    add("A", "create null data /nul", CREATE2, jute.Writer().ustring("/nul").buffer(None)
        .acls(jute.OPEN_ACL).int(0).bytes())
    add("A", "getData /nul (null data)", GET_DATA, path_body("/nul", False))
    add("B", "create ephemeral /d/e", CREATE2, create_body("/d/e", b"eph", flags=1))
    add("B", "create ephemeral seq /d/es-", CREATE2, create_body("/d/es-", b"", flags=3))
    add("A", "child of ephemeral", CREATE, create_body("/d/e/x"))
    add("A", "createContainer /cont", CREATE_CONTAINER, create_body("/cont", b"", flags=4))
    add("A", "create /cont/x", CREATE, create_body("/cont/x"))
    add("A", "createTTL /ttl", CREATE_TTL, create_body("/ttl", b"t", flags=5, ttl=600000))
    add("A", "getData /d", GET_DATA, path_body("/d", False))
    add("A", "getData missing", GET_DATA, path_body("/missing", False))
    add("A", "setData /d v0", SET_DATA, set_data_body("/d", b"v1", 0))
    add("A", "setData /d bad version", SET_DATA, set_data_body("/d", b"v2", 5))
    add("A", "setData missing", SET_DATA, set_data_body("/missing", b"x", -1))
    add("A", "delete missing", DELETE, path_int_body("/missing", -1))
    add("A", "delete not empty", DELETE, path_int_body("/d", -1))
    add("A", "delete bad version", DELETE, path_int_body("/d/c1", 3))
    add("A", "delete /d/c1 v0", DELETE, path_int_body("/d/c1", 0))
    add("A", "create seq after delete", CREATE, create_body("/d/s-", b"", flags=2))
    # exists watch on a missing node, created by the other session
    add("A", "exists /w watch", EXISTS, path_body("/w", True))
    add("B", "create /w", CREATE, create_body("/w", b"w"))
    add("A", "ping (sees NodeCreated /w)", PING)
    # exists watch on a missing node, created by the same session: event before the reply
    add("A", "exists /w2 watch", EXISTS, path_body("/w2", True))
    add("A", "create /w2", CREATE, create_body("/w2"))
    add("A", "getData /d watch", GET_DATA, path_body("/d", True))
    add("A", "setData /d (own watch fires)", SET_DATA, set_data_body("/d", b"v3", -1))
    add("A", "setData /d (watch consumed)", SET_DATA, set_data_body("/d", b"v4", -1))
    add("A", "getChildren2 /d watch", GET_CHILDREN2, path_body("/d", True))
    add("B", "create /d/c2", CREATE, create_body("/d/c2"))
    add("A", "ping (sees NodeChildrenChanged /d)", PING)
    add("A", "getChildren /", GET_CHILDREN, path_body("/", False))
    add("A", "getChildren missing", GET_CHILDREN, path_body("/missing", True))
    add("A", "getAllChildrenNumber /", GET_ALL_CHILDREN_NUMBER, jute.Writer().ustring("/").bytes())
    add("A", "getAllChildrenNumber /d", GET_ALL_CHILDREN_NUMBER, jute.Writer().ustring("/d").bytes())
    add("B", "getEphemerals /", GET_EPHEMERALS, jute.Writer().ustring("/").bytes())
    add("B", "getEphemerals /d/e (prefix)", GET_EPHEMERALS, jute.Writer().ustring("/d/e").bytes())
    add("A", "getEphemerals (none)", GET_EPHEMERALS, jute.Writer().ustring("/").bytes())
    add("A", "multi success", MULTI, multi_body([
        (CREATE, create_body("/m1", b"m")),
        (CREATE, create_body("/m1/a")),
        (CREATE, create_body("/m1/s-", flags=2)),
        (SET_DATA, set_data_body("/d", b"multi", -1)),
        (CHECK, path_int_body("/d", 4)),  # sees the setData above
        (DELETE, path_int_body("/m1/a", -1)),
    ]))
    add("A", "multi failure", MULTI, multi_body([
        (CREATE, create_body("/m2")),
        (SET_DATA, set_data_body("/d", b"nope", -1)),
        (DELETE, path_int_body("/missing", -1)),
        (CREATE, create_body("/m3")),
    ]))
    add("A", "multi failed: /m2 absent", EXISTS, path_body("/m2", False))
    add("A", "multi check failure", MULTI, multi_body([
        (CHECK, path_int_body("/d", 99)), (CREATE, create_body("/m4"))]))
    add("A", "empty multi", MULTI, multi_body([]))
    add("A", "multiRead", MULTI_READ, multi_body([
        (GET_DATA, path_body("/d", False)),
        (GET_CHILDREN, path_body("/d", False)),
        (GET_DATA, path_body("/missing", False)),
        (GET_CHILDREN, path_body("/m1", False)),
    ]))
    add("A", "create /acl", CREATE, create_body("/acl", b"secret"))
    add("A", "setACL bad version", SET_ACL, set_acl_body("/acl", USER1_ACL, 4))
    add("A", "setACL v0", SET_ACL, set_acl_body("/acl", USER1_ACL, 0))
    add("A", "getACL without auth", GET_ACL, path_body("/acl"))
    add("A", "getData without auth", GET_DATA, path_body("/acl", False))
    add("A", "setData without auth", SET_DATA, set_data_body("/acl", b"x", -1))
    add("A", "setACL empty list", SET_ACL, set_acl_body("/d", [], -1))
    add("A", "auth user1", jute.AUTH, jute.auth_body("digest", b"user1:pass1"))
    add("A", "getACL with auth", GET_ACL, path_body("/acl"))
    add("A", "getData with auth", GET_DATA, path_body("/acl", False))
    add("B", "getData other session", GET_DATA, path_body("/acl", False))
    add("A", "getACL /zookeeper/config", GET_ACL, path_body("/zookeeper/config"))
    add("A", "getData /zookeeper/config", GET_DATA, path_body("/zookeeper/config", False))
    # persistent and recursive watches
    add("A", "addWatch /pw persistent", ADD_WATCH, path_int_body("/pw", 0))
    add("A", "addWatch /rw recursive", ADD_WATCH, path_int_body("/rw", 1))
    add("A", "create /pw", CREATE, create_body("/pw"))
    add("A", "create /pw/x", CREATE, create_body("/pw/x"))
    add("A", "setData /pw", SET_DATA, set_data_body("/pw", b"1", -1))
    add("A", "setData /pw/x (no event)", SET_DATA, set_data_body("/pw/x", b"1", -1))
    add("A", "delete /pw/x", DELETE, path_int_body("/pw/x", -1))
    add("A", "create /rw", CREATE, create_body("/rw"))
    add("A", "create /rw/a", CREATE, create_body("/rw/a"))
    add("B", "create /rw/a/b", CREATE, create_body("/rw/a/b"))
    add("A", "ping (sees /rw/a/b)", PING)
    add("A", "setData /rw/a/b", SET_DATA, set_data_body("/rw/a/b", b"x", -1))
    add("A", "delete /rw/a/b", DELETE, path_int_body("/rw/a/b", -1))
    add("A", "removeWatches /pw any", REMOVE_WATCHES, path_int_body("/pw", 3))
    add("A", "setData /pw (removed)", SET_DATA, set_data_body("/pw", b"2", -1))
    # checkWatches / removeWatches on one-shot watches
    add("A", "getData /d watch again", GET_DATA, path_body("/d", True))
    add("A", "checkWatches /d data", CHECK_WATCHES, path_int_body("/d", 2))
    add("A", "checkWatches /d children", CHECK_WATCHES, path_int_body("/d", 1))
    add("A", "checkWatches /nowatch any", CHECK_WATCHES, path_int_body("/nowatch", 3))
    add("A", "removeWatches /d data", REMOVE_WATCHES, path_int_body("/d", 2))
    add("A", "removeWatches /d data again", REMOVE_WATCHES, path_int_body("/d", 2))
    add("A", "setData /d (no watch)", SET_DATA, set_data_body("/d", b"v5", -1))
    add("A", "whoAmI A", WHO_AM_I)
    add("B", "whoAmI B", WHO_AM_I)
    add("A", "sync /d", SYNC, jute.Writer().ustring("/d").bytes())
    add("A", "sync missing", SYNC, jute.Writer().ustring("/missing").bytes())
    # session close deletes B's ephemerals and fires A's watches
    add("B", "delete /d/es-", DELETE, path_int_body("/d/es-0000000005", -1))
    add("A", "exists /d/e watch", EXISTS, path_body("/d/e", True))
    add("A", "getChildren /d watch", GET_CHILDREN, path_body("/d", True))
    add("B", "closeSession", jute.CLOSE_SESSION)
    add("A", "ping (sees B's ephemeral go)", PING)
    add("A", "getChildren2 /d", GET_CHILDREN2, path_body("/d", False))
    add("A", "getData /cont", GET_DATA, path_body("/cont", False))
    add("A", "getData /ttl", GET_DATA, path_body("/ttl", False))
    add("A", "exists /", EXISTS, path_body("/", False))
    add("A", "exists /zookeeper", EXISTS, path_body("/zookeeper", False))
    return s


def edge_script():
    """Error paths, ACL corners, multi corners, node types and watch de-duplication."""
    s = []

    def add(conn, label, op, body=b"", xid=None):
        s.append((conn, label, op, body, xid))

    def acl_create(label, path, acl):
        add("A", label, CREATE, create_body(path, b"", acl=acl))

    add("A", "exists / (fresh)", EXISTS, path_body("/", False))
    add("A", "getChildren2 /zookeeper", GET_CHILDREN2, path_body("/zookeeper", False))
    add("A", "getData /zookeeper/quota", GET_DATA, path_body("/zookeeper/quota", False))
    add("A", "getAllChildrenNumber / (fresh)", GET_ALL_CHILDREN_NUMBER, jute.Writer().ustring("/").bytes())
    add("A", "getAllChildrenNumber missing", GET_ALL_CHILDREN_NUMBER, jute.Writer().ustring("/nope").bytes())
    add("A", "create /zookeeper/x", CREATE, create_body("/zookeeper/x"))
    add("A", "delete /zookeeper/x", DELETE, path_int_body("/zookeeper/x", -1))
    for special in ("/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        add("A", f"delete {special}", DELETE, path_int_body(special, -1))
    add("A", "setData /zookeeper/config", SET_DATA, set_data_body("/zookeeper/config", b"x", -1))
    for flags in (7, -1, 100):
        add("A", f"create flags {flags}", CREATE, create_body("/f", flags=flags))
    for path in ("", "noslash", "/a/", "/.", "/..", "/a\x00b", "/a\x01b", "/\u00e9t\u00e9", "/a.b", "/..."):
        add("A", f"create {path!r}", CREATE, create_body(path))
    add("A", "getData noslash", GET_DATA, path_body("noslash", False))
    add("A", "create /p", CREATE, create_body("/p", b"p"))
    add("A", "create /p/ trailing slash", CREATE, create_body("/p/"))
    add("A", "create /p/./x", CREATE, create_body("/p/./x"))
    add("A", "create /p//x", CREATE, create_body("/p//x"))
    add("A", "create seq /p/ (trailing slash)", CREATE, create_body("/p/", flags=2))
    acl_create("create ACL []", "/acl0", [])
    acl_create("create ACL unknown scheme", "/acl1", [(31, "nosuch", "x")])
    acl_create("create ACL digest no colon", "/acl2", [(31, "digest", "nocolon")])
    acl_create("create ACL world:someone", "/acl3", [(31, "world", "someone")])
    acl_create("create ACL auth unauthenticated", "/acl4", [(31, "auth", "")])
    acl_create("create ACL ip 127.0.0.1", "/ip1", [(31, "ip", "127.0.0.1")])
    acl_create("create ACL ip 10.0.0.0/8", "/ip2", [(31, "ip", "10.0.0.0/8")])
    acl_create("create ACL ip bad", "/ip3", [(31, "ip", "not-an-ip")])
    add("A", "getData /ip1", GET_DATA, path_body("/ip1", False))
    add("A", "getData /ip2 (other net)", GET_DATA, path_body("/ip2", False))
    acl_create("create ACL read-only world", "/ro", [(1, "world", "anyone")])
    add("A", "create child of read-only", CREATE, create_body("/ro/c"))
    add("A", "setData read-only", SET_DATA, set_data_body("/ro", b"x", -1))
    add("A", "setACL read-only (no ADMIN)", SET_ACL, set_acl_body("/ro", jute.OPEN_ACL, -1))
    acl_create("create ACL create+read", "/cr", [(5, "world", "anyone")])
    add("A", "create child of create+read", CREATE, create_body("/cr/c"))
    add("A", "delete child without DELETE", DELETE, path_int_body("/cr/c", -1))
    acl_create("create ACL admin only", "/adm", [(16, "world", "anyone")])
    add("A", "getData admin only", GET_DATA, path_body("/adm", False))
    add("A", "getChildren admin only", GET_CHILDREN, path_body("/adm", False))
    add("A", "getACL admin only", GET_ACL, path_body("/adm"))
    add("A", "create /dup ACL de-duplication", CREATE, create_body("/dup", acl=jute.OPEN_ACL * 2))
    add("A", "getACL /dup", GET_ACL, path_body("/dup"))
    add("A", "auth user1", jute.AUTH, jute.auth_body("digest", b"user1:pass1"))
    acl_create("create ACL auth", "/mine", [(17, "auth", "")])
    add("A", "getACL /mine", GET_ACL, path_body("/mine"))
    add("A", "setACL /mine auth + world read", SET_ACL,
        set_acl_body("/mine", [(31, "auth", "x"), (1, "world", "anyone")], -1))
    add("B", "getACL /mine without ADMIN (masked)", GET_ACL, path_body("/mine"))
    add("B", "getData /mine world read", GET_DATA, path_body("/mine", False))
    add("A", "setACL unknown scheme", SET_ACL, set_acl_body("/mine", [(31, "nosuch", "x")], -1))
    add("A", "setACL missing", SET_ACL, set_acl_body("/nope", jute.OPEN_ACL, -1))
    add("A", "getACL missing", GET_ACL, path_body("/nope"))
    add("B", "auth super", jute.AUTH, jute.auth_body("digest", b"super:test"))
    add("B", "setData /ro as super", SET_DATA, set_data_body("/ro", b"super", -1))
    add("B", "getACL /mine as super", GET_ACL, path_body("/mine"))
    add("B", "whoAmI super", WHO_AM_I)
    # cversion and sequence numbers
    add("A", "create /cv", CREATE, create_body("/cv"))
    add("A", "create /cv/a", CREATE, create_body("/cv/a"))
    for i in range(3):
        add("A", f"create seq /cv/s- #{i}", CREATE, create_body("/cv/s-", flags=2))
    add("A", "delete /cv/a", DELETE, path_int_body("/cv/a", -1))
    add("A", "create seq /cv/s- after delete", CREATE, create_body("/cv/s-", flags=2))
    add("A", "getChildren2 /cv", GET_CHILDREN2, path_body("/cv", False))
    add("A", "multi: two sequential creates", MULTI, multi_body([
        (CREATE, create_body("/cv/m-", flags=2)), (CREATE, create_body("/cv/m-", flags=2))]))
    # multi corners
    add("A", "multi: create then setData v0 then check v1", MULTI, multi_body([
        (CREATE, create_body("/mx", b"a")), (SET_DATA, set_data_body("/mx", b"b", 0)),
        (CHECK, path_int_body("/mx", 1))]))
    add("A", "multi: delete then re-create", MULTI, multi_body([
        (DELETE, path_int_body("/mx", -1)), (CREATE, create_body("/mx", b"again"))]))
    add("A", "getData /mx", GET_DATA, path_body("/mx", False))
    add("A", "multi: duplicate create", MULTI, multi_body([
        (CREATE, create_body("/my")), (CREATE, create_body("/my"))]))
    add("A", "multi: create2 result shape", MULTI, multi_body([(CREATE2, create_body("/mz"))]))
    add("A", "multi: with a read op", MULTI, multi_body([
        (CREATE, create_body("/mr")), (GET_DATA, path_body("/p", False))]))
    add("A", "multi: bad path", MULTI, multi_body([(CREATE, create_body("bad"))]))
    add("A", "multiRead: NOAUTH op", MULTI_READ, multi_body([
        (GET_DATA, path_body("/adm", False)), (GET_DATA, path_body("/p", False))]))
    add("A", "multiRead: with a write op", MULTI_READ, multi_body([
        (GET_DATA, path_body("/p", False)), (CREATE, create_body("/mw"))]))
    add("A", "exists /my (rolled back)", EXISTS, path_body("/my", False))
    # node types through the opcode
    add("A", "op 19 with flags 0 (container)", CREATE_CONTAINER, create_body("/c19", flags=0))
    add("A", "op 1 with flags 4", CREATE, create_body("/c1f4", flags=4))
    add("A", "op 15 with flags 5 (TTL via create2)", CREATE2, create_body("/t15", flags=5))
    add("A", "op 21 ttl too big", CREATE_TTL, create_body("/tbig", flags=5, ttl=0x10000000000))
    add("A", "op 21 ttl -1", CREATE_TTL, create_body("/tneg", flags=5, ttl=-1))
    add("A", "op 21 sequential TTL", CREATE_TTL, create_body("/tseq-", flags=6, ttl=60000))
    add("A", "op 21 ephemeral flags", CREATE_TTL, create_body("/teph", flags=1, ttl=60000))
    add("A", "exists /c1f4", EXISTS, path_body("/c1f4", False))
    # null vs empty data
    add("A", "setData /p null", SET_DATA, jute.Writer().ustring("/p").buffer(None).int(-1).bytes())
    add("A", "getData /p (null)", GET_DATA, path_body("/p", False))
    add("A", "setData /p empty", SET_DATA, set_data_body("/p", b"", -1))
    add("A", "getData /p (empty)", GET_DATA, path_body("/p", False))
    # watches: one NodeDeleted per connection even with data + child + exists watches
    add("A", "create /wd", CREATE, create_body("/wd"))
    add("A", "getData /wd watch", GET_DATA, path_body("/wd", True))
    add("A", "exists /wd watch", EXISTS, path_body("/wd", True))
    add("A", "getChildren /wd watch", GET_CHILDREN, path_body("/wd", True))
    add("A", "getChildren / watch", GET_CHILDREN, path_body("/", True))
    add("A", "delete /wd", DELETE, path_int_body("/wd", -1))
    add("A", "getData missing with watch", GET_DATA, path_body("/wd", True))
    add("A", "create /wd again (no watch left)", CREATE, create_body("/wd"))
    add("A", "addWatch bad mode", ADD_WATCH, path_int_body("/wd", 2))
    add("A", "addWatch recursive /", ADD_WATCH, path_int_body("/", 1))
    add("A", "checkWatches / any", CHECK_WATCHES, path_int_body("/", 3))
    add("B", "setData /wd from B", SET_DATA, set_data_body("/wd", b"b", -1))
    add("A", "ping (sees /wd change)", PING)
    add("A", "removeWatches / any", REMOVE_WATCHES, path_int_body("/", 3))
    add("A", "removeWatches missing path", REMOVE_WATCHES, path_int_body("/nowhere", 3))
    # xids are echoed
    add("A", "getData xid 0", GET_DATA, path_body("/p", False), 0)
    add("A", "getData xid -3", GET_DATA, path_body("/p", False), -3)
    add("A", "ping with xid 7", PING, b"", 7)
    add("A", "unknown opcode 10", 10, b"")
    return s


class Normaliser:
    def __init__(self, sessions):
        self.sessions = sessions  # session id -> label

    def stat(self, st):
        owner = st["ephemeralOwner"]
        return {
            "version": st["version"], "cversion": st["cversion"], "aversion": st["aversion"],
            "dataLength": st["dataLength"], "numChildren": st["numChildren"],
            "ephemeralOwner": self.sessions.get(owner, 0 if owner == 0 else "another session"),
            "mzxid==czxid": st["mzxid"] == st["czxid"], "pzxid==czxid": st["pzxid"] == st["czxid"],
            "mtime>=ctime": st["mtime"] >= st["ctime"],
        }

    def value(self, v):
        if isinstance(v, dict):
            return {k: (self.stat(x) if k == "stat" else self.value(x)) for k, x in v.items()
                    if k != "zxid"}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, tuple):
            return [self.value(x) for x in v]
        if isinstance(v, bytes):
            return v.decode(errors="replace")
        return v


def run(port, steps):
    """Run the script against one server; return the normalised transcript (list of lines)."""
    conns = {"A": jute.Conn(port), "B": jute.Conn(port)}
    try:
        for c in conns.values():
            c.connect(timeout_ms=30000)
        norm = Normaliser({conns["A"].session_id: "session A", conns["B"].session_id: "session B"})
        lines = []
        for i, (name, label, op, body, xid) in enumerate(steps):
            c = conns[name]
            if xid is None:
                xid = {PING: -2, jute.AUTH: -4}.get(op)
            try:
                reply = c.call(op, body, xid=xid)
            except (jute.Closed, OSError) as exc:
                reply = {"connection": f"closed ({type(exc).__name__})"}
            entry = {"events": [norm.value(e) for e in c.take_events()], "reply": norm.value(reply)}
            lines.append(f"{i:03d} {name} {label}: {json.dumps(entry, sort_keys=True)}")
        return lines
    finally:
        for c in conns.values():
            c.close()


def empty_path_script():
    """Reads of the empty path: Apache's tree also keys the root under "", so they see '/'."""
    return [("A", "getData ''", GET_DATA, path_body("", False), None),
            ("A", "exists ''", EXISTS, path_body("", False), None),
            ("A", "getChildren2 ''", GET_CHILDREN2, path_body("", False), None),
            ("A", "getACL ''", GET_ACL, path_body(""), None)]


@pytest.mark.parametrize("make_script", [script, edge_script, empty_path_script],
                         ids=["main", "edges", "empty-path"])
def test_behaviour_matches_apache(make_script, fresh_zk, apache_zk, zk_kind):
    steps = make_script()
    reference = run(apache_zk.port, steps)
    observed = run(fresh_zk.port, steps)
    if observed != reference:
        diff = "\n".join(difflib.unified_diff(reference, observed, "apache-3.8", zk_kind,
                                              lineterm="", n=1))
        mismatched = sum(1 for a, b in zip(reference, observed) if a != b)
        raise AssertionError(f"{mismatched} of {len(reference)} steps differ from Apache "
                             f"ZooKeeper:\n{diff}")
