"""Behaviour diff: one scripted sequence of raw requests is sent to the server under test and to
an Apache ZooKeeper reference server (both fresh); the normalised transcripts must be equal.

Normalised away: reply and Stat zxids, times and session ids (kept only as relations such as
"mzxid == czxid" and "owned by session A"). Kept: xids, error codes, Stat counters, data,
children (as sorted lists), ACLs, paths, and every watch event with its position relative to
the replies on the same connection."""
import difflib
import json

import jute
from jute import (ADD_WATCH, CHECK, CHECK_WATCHES, CREATE, CREATE2, CREATE_CONTAINER, CREATE_TTL,
                  DELETE, EXISTS, GET_ACL, GET_ALL_CHILDREN_NUMBER, GET_CHILDREN, GET_CHILDREN2,
                  GET_DATA, GET_EPHEMERALS, MULTI, MULTI_READ, PING, REMOVE_WATCHES, SET_ACL,
                  SET_DATA, SYNC, WHO_AM_I, create_body, multi_body, path_body, path_int_body,
                  set_acl_body, set_data_body)

USER1_ACL = [(31, "digest", "user1:+7K83PhyQ3ijGj0ADmljf0quVwQ=")]


def script():
    """(connection, label, opcode, body) steps; connection 'A' or 'B'. xid is chosen by Conn."""
    s = []

    def add(conn, label, op, body=b""):
        s.append((conn, label, op, body))

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


def run(port):
    """Run the script against one server; return the normalised transcript (list of lines)."""
    conns = {"A": jute.Conn(port), "B": jute.Conn(port)}
    try:
        for c in conns.values():
            c.connect(timeout_ms=30000)
        norm = Normaliser({conns["A"].session_id: "session A", conns["B"].session_id: "session B"})
        lines = []
        for i, (name, label, op, body) in enumerate(script()):
            c = conns[name]
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


def test_behaviour_matches_apache(fresh_zk, apache_zk, zk_kind):
    reference = run(apache_zk.port)
    observed = run(fresh_zk.port)
    if observed != reference:
        diff = "\n".join(difflib.unified_diff(reference, observed, "apache-3.8", zk_kind,
                                              lineterm="", n=1))
        mismatched = sum(1 for a, b in zip(reference, observed) if a != b)
        raise AssertionError(f"{mismatched} of {len(reference)} steps differ from Apache "
                             f"ZooKeeper:\n{diff}")
