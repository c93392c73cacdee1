"""The C client (cli_mt) and the Java command line (ZooKeeperMain, what zkCli.sh runs) against
the server under test, asserting on what they print."""
import re

import pytest

from zktest import cli


@pytest.fixture
def cli_mt(zk):
    c = cli.cli_mt(zk.hosts)
    c.expect(r"Got a new session id: 0x[0-9a-f]+")
    yield c
    c.close()


def test_cli_mt_create_get_set_ls_delete(cli_mt, kz, base):
    c = cli_mt
    c.send(f"create {base}/x", rf"\[{base}/x\]: rc = 0\s+name = {base}/x")
    # cli_mt 3.8 always stores the data "new"; get also sets a data watch
    m = c.send(f"get {base}/x", rf"{base}/x: rc = 0\n value_len = 3\nnew\nStat:(\n\t.*)+version=0")
    assert "czxid=" in c.since_mark()
    c.send(f"set {base}/x v2", rf"{base}/x: rc = 0 Stat:(\n\t.*)+version=1")
    assert f"Watcher CHANGED_EVENT state = CONNECTED_STATE for path {base}/x" in c.since_mark()
    c.send(f"get {base}/x", rf"value_len = 2\nv2\n")
    assert kz.get(f"{base}/x")[0] == b"v2"
    c.send(f"create {base}/y", rf"\[{base}/y\]: rc = 0")
    m = c.send(f"ls {base}", rf"{base}: rc = 0\n((\t.*\n)+)")
    assert sorted(m.group(1).split()) == ["x", "y"]
    c.send(f"exists {base}/nope", rf"Error -101 for {base}/nope")
    c.send(f"get {base}/nope", rf"{base}/nope: rc = -101")
    c.send(f"delete {base}", rf"{base}: rc = -111")
    c.send(f"delete {base}/x", rf"{base}/x: rc = 0")
    c.send(f"exists {base}/x", rf"Error -101 for {base}/x")
    assert kz.exists(f"{base}/x") is None
    c.send(f"sync {base}", rf"\[{base}\]: rc = 0")
    m = c.send(f"ls2 {base}", rf"{base}: rc = 0\n((\t[^=\n]*\n)+)")
    assert m.group(1).split() == ["y"]


def test_cli_mt_ephemeral_and_sequential(zk, kz, base):
    c = cli.cli_mt(zk.hosts)
    try:
        c.expect(r"Got a new session id: (0x[0-9a-f]+)")
        sid = int(c.expect(r"Got a new session id: (0x[0-9a-f]+)").group(1), 16)
        c.send(f"create +e {base}/e", rf"\[{base}/e\]: rc = 0")
        names = [c.send(f"create +s {base}/s-", rf"name = ({base}/s-\d{{10}})").group(1)
                 for _ in range(2)]
        assert names == [f"{base}/s-0000000001", f"{base}/s-0000000002"]
        m = c.send(f"create +es {base}/es-", rf"name = ({base}/es-\d{{10}})")
        st = kz.exists(f"{base}/e")
        assert st is not None and st.ephemeralOwner == sid
        assert kz.exists(m.group(1)).ephemeralOwner == sid
        assert kz.exists(names[0]).ephemeralOwner == 0
    finally:
        c.close()
    assert kz.exists(f"{base}/e") is None, "ephemeral survived the client's exit"
    assert kz.exists(f"{base}/s-0000000001") is not None


def zkcli_ok(zk, *args):
    rc, out = cli.zkcli_once(zk.hosts, *args)
    assert rc == 0, out
    return out


def test_zkcli_create_get_set_ls_stat_delete(zk, kz, base):
    assert f"Created {base}/n" in zkcli_ok(zk, "create", f"{base}/n", "hello")
    out = zkcli_ok(zk, "get", f"{base}/n")
    assert re.search(r"^hello$", out, re.M)
    zkcli_ok(zk, "set", f"{base}/n", "world")
    out = zkcli_ok(zk, "get", "-s", f"{base}/n")
    assert re.search(r"^world$", out, re.M)
    assert re.search(r"^dataVersion = 1$", out, re.M)
    assert re.search(r"^dataLength = 5$", out, re.M)
    for key in ("cZxid = 0x", "ctime = ", "mZxid = 0x", "mtime = ", "pZxid = 0x", "cversion = 0",
                "aclVersion = 0", "ephemeralOwner = 0x0", "numChildren = 0"):
        assert re.search("^" + re.escape(key), out, re.M), key
    zkcli_ok(zk, "create", f"{base}/m", "")
    out = zkcli_ok(zk, "ls", base)
    assert re.search(r"^\[m, n\]$", out, re.M)
    out = zkcli_ok(zk, "stat", base)
    assert re.search(r"^numChildren = 2$", out, re.M) and re.search(r"^cversion = 2$", out, re.M)
    zkcli_ok(zk, "delete", f"{base}/n")
    assert kz.exists(f"{base}/n") is None
    rc, out = cli.zkcli_once(zk.hosts, "get", f"{base}/n")
    assert "Node does not exist" in out
    rc, out = cli.zkcli_once(zk.hosts, "delete", base)
    assert "Node not empty" in out or "NotEmpty" in out


def test_zkcli_sequential_and_ephemeral(zk, kz, base):
    out = zkcli_ok(zk, "create", "-s", f"{base}/q-", "d")
    assert f"Created {base}/q-0000000000" in out
    out = zkcli_ok(zk, "create", "-s", f"{base}/q-", "d")
    assert f"Created {base}/q-0000000001" in out
    # one-shot mode exits without closing its session: the ephemeral lives until it expires
    out = zkcli_ok(zk, "create", "-e", f"{base}/tmp", "d")
    assert f"Created {base}/tmp" in out
    st = kz.exists(f"{base}/tmp")
    assert st is None or st.ephemeralOwner != 0


def test_zkcli_interactive_auth_acl_and_ephemeral(zk, kz, base):
    c = cli.zkcli(zk.hosts)
    try:
        c.expect(r"state:SyncConnected", timeout=30)
        c.send("addauth digest user1:pass1")
        c.send(f"create {base}/sec data", rf"Created {base}/sec")
        c.send(f"setAcl {base}/sec auth::cdrwa")
        c.send(f"getAcl {base}/sec", r"'digest,'user1:\+7K83PhyQ3ijGj0ADmljf0quVwQ=\n: cdrwa")
        c.send(f"create -e {base}/eph x", rf"Created {base}/eph")
        c.send("getEphemerals", rf"\[{base}/eph\]")
        c.send(f"get -s {base}/eph", r"ephemeralOwner = 0x[0-9a-f]*[1-9a-f]")
        assert kz.exists(f"{base}/eph") is not None
    finally:
        c.close()
    assert kz.exists(f"{base}/eph") is None
    rc, out = cli.zkcli_once(zk.hosts, "get", f"{base}/sec")
    assert "Insufficient permission" in out
    c = cli.zkcli(zk.hosts)
    try:
        c.expect(r"state:SyncConnected", timeout=30)
        c.send("addauth digest super:test")
        c.send(f"get {base}/sec", r"^data$")
        c.send(f"setAcl {base}/sec world:anyone:r")
        c.send(f"getAcl {base}/sec", r"'world,'anyone\n: r")
    finally:
        c.close()
    assert kz.get(f"{base}/sec")[0] == b"data"


def test_zkcli_watches_and_newer_commands(zk, kz, base):
    c = cli.zkcli(zk.hosts)
    try:
        c.expect(r"state:SyncConnected", timeout=30)
        c.send(f"create {base}/aw", rf"Created {base}/aw")
        c.send(f"addWatch -m PERSISTENT_RECURSIVE {base}/aw")
        c.send(f"stat {base}/aw", r"numChildren = 0")  # the addWatch reply has arrived
        kz.create(f"{base}/aw/x/y", makepath=True)
        kz.set(f"{base}/aw/x", b"1")
        for path, kind in ((f"{base}/aw/x", "NodeCreated"), (f"{base}/aw/x/y", "NodeCreated"),
                           (f"{base}/aw/x", "NodeDataChanged")):
            c.expect(rf"WatchedEvent state:SyncConnected type:{kind} path:{path}\n")
        c.send(f"getAllChildrenNumber {base}", r"^3$")
        c.send(f"ls -R {base}/aw", rf"^{base}/aw\n{base}/aw/x\n{base}/aw/x/y$")
        c.send("whoami", r"Auth scheme: User\nip: 127\.0\.0\.1")
        c.send(f"sync {base}", r"Sync is OK")
        c.send(f"set -v 5 {base}/aw x", r"version No is not valid")
        c.send(f"delete -v 3 {base}/aw/x/y", r"version No is not valid")
        c.send(f"get -w {base}/aw/x", r"^1$")
        c.send(f"removewatches {base}/aw",
               rf"type:PersistentWatchRemoved path:{base}/aw")
        c.send(f"create -c {base}/cont", rf"Created {base}/cont")
        c.send(f"create -t 60000 {base}/ttl x", rf"Created {base}/ttl")
        c.send(f"get {base}/ttl", r"^x$")
        kz.set(f"{base}/aw/x", b"2")  # the one-shot watch from get -w fires
        c.expect(rf"type:NodeDataChanged path:{base}/aw/x\n")
        kz.create(f"{base}/aw/z")  # the recursive watch is gone: no event for this
        c.send(f"stat {base}/aw", r"numChildren = 2")
        assert f"path:{base}/aw/z" not in c.since_mark()
    finally:
        c.close()


def test_zkcli_sh_script(zk, kz, base):
    """The packaged zkCli.sh wrapper (not just the Java class) works against the server."""
    rc, out = cli.zkcli_sh_once(zk.hosts, "create", f"{base}/sh", "via-script")
    assert rc == 0 and f"Created {base}/sh" in out, out
    rc, out = cli.zkcli_sh_once(zk.hosts, "get", f"{base}/sh")
    assert rc == 0 and re.search(r"^via-script$", out, re.M), out
    rc, out = cli.zkcli_sh_once(zk.hosts, "ls", base)
    assert rc == 0 and re.search(r"^\[sh\]$", out, re.M), out
    rc, out = cli.zkcli_sh_once(zk.hosts, "delete", f"{base}/sh")
    assert rc == 0 and kz.exists(f"{base}/sh") is None


def test_cli_mt_auth_watches_and_node_types(cli_mt, kazoo_factory, kz, base):
    from kazoo.security import make_digest_acl

    owner = kazoo_factory(auth_data=[("digest", "user1:pass1")])
    owner.create(f"{base}/sec", b"hidden", acl=[make_digest_acl("user1", "pass1", all=True)])
    c = cli_mt
    c.send(f"get {base}/sec", rf"{base}/sec: rc = -102")
    c.send("addauth digest user1:pass1")
    c.send(f"get {base}/sec", rf"value_len = 6\nhidden\n")
    # exists with a watch on a missing node, then created elsewhere
    c.send(f"wexists {base}/later", rf"Error -101 for {base}/later")
    kz.create(f"{base}/later")
    c.expect(rf"Watcher CREATED_EVENT state = CONNECTED_STATE for path {base}/later")
    c.send(f"create +c {base}/cont", rf"\[{base}/cont\]: rc = 0")
    c.send(f"create +t=60000 {base}/ttl", rf"\[{base}/ttl\]: rc = 0")
    c.send(f"create2 {base}/c2", rf"\[{base}/c2\]: rc = 0")
    assert kz.exists(f"{base}/cont").ephemeralOwner == 0
    assert kz.get(f"{base}/ttl")[0] == b"new"
