"""Quotas as Apache ZooKeeper 3.8 keeps them, driven by zkCli (setquota, listquota, delquota) and checked
with kazoo: the stats node follows the subtree, and with enforceQuota=true a hard limit refuses the create,
the setData and a whole multi with QUOTAEXCEEDED. Runs against either server (ZK_SERVER)."""
import pytest
from kazoo.exceptions import KazooException

from zktest import cli
from zktest.words import four_letter


def stats(kz, root):
    return kz.get(f"/zookeeper/quota{root}/zookeeper_stats")[0].decode()


def test_zkcli_quota_session_and_stats(zk_factory, kazoo_factory):
    srv = zk_factory()
    kz = kazoo_factory(server=srv)
    kz.create("/qa", b"hello")
    rc, out = cli.zkcli_once(srv.hosts, "setquota", "-n", "5", "/qa")
    assert rc == 0, out
    assert stats(kz, "/qa") == "count=1,bytes=5"
    kz.create("/qa/x", b"abc")
    kz.set("/qa", b"h")
    assert stats(kz, "/qa") == "count=2,bytes=4"
    data, st = kz.get("/zookeeper/quota/qa/zookeeper_stats")
    assert st.version == 0 and st.mzxid == st.czxid  # kept in memory: no version, no zxid
    rc, out = cli.zkcli_once(srv.hosts, "listquota", "/qa")
    assert "absolute path is /zookeeper/quota/qa/zookeeper_limits" in out, out
    assert "Output quota for /qa count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1" in out, out
    assert "Output stat for /qa count=2,bytes=4" in out, out
    # Apache's quota gauges in mntr, per namespace.
    mntr = dict(l.split("\t", 1) for l in four_letter(srv.port, "mntr").decode().splitlines())
    assert (mntr["zk_qa_quota_count_limit_per_namespace"], mntr["zk_qa_quota_bytes_limit_per_namespace"],
            mntr["zk_qa_quota_count_usage_per_namespace"], mntr["zk_qa_quota_bytes_usage_per_namespace"]) == ("5", "-1", "2", "4")
    # A nested quota is refused by the CLI; deleting the quota removes its nodes.
    kz.create("/qa/x/y")
    rc, out = cli.zkcli_once(srv.hosts, "setquota", "-n", "2", "/qa/x/y")
    assert "has a parent /qa which has a quota" in out, out
    rc, out = cli.zkcli_once(srv.hosts, "delquota", "/qa")
    assert kz.exists("/zookeeper/quota/qa") is None, out
    kz.create("/qa/z")  # no quota any more: nothing tracks it
    assert kz.get_children("/zookeeper/quota") == []


def test_enforced_hard_limits_refuse_with_quota_exceeded(zk_factory, kazoo_factory):
    srv = zk_factory({"enforceQuota": "true"})
    kz = kazoo_factory(server=srv)
    kz.create("/qc")
    rc, out = cli.zkcli_once(srv.hosts, "setquota", "-N", "3", "/qc")
    assert rc == 0, out
    kz.create("/qc/a")
    kz.create("/qc/b")
    with pytest.raises(KazooException) as e:  # the root counts as one: a third child makes four
        kz.create("/qc/c")
    assert type(e.value).__name__ == "QuotaExceededError", repr(e.value)
    kz.create("/qd", b"")
    rc, out = cli.zkcli_once(srv.hosts, "setquota", "-B", "10", "/qd")
    assert rc == 0, out
    kz.set("/qd", b"x" * 10)
    with pytest.raises(KazooException) as e:
        kz.set("/qd", b"x" * 11)
    assert type(e.value).__name__ == "QuotaExceededError", repr(e.value)
    t = kz.transaction()
    t.create("/qd/m", b"1")
    t.create("/other")
    results = t.commit()
    assert [type(r).__name__ for r in results] == ["QuotaExceededError", "RuntimeInconsistency"], results
    assert kz.exists("/other") is None
    assert stats(kz, "/qc") == "count=3,bytes=0" and stats(kz, "/qd") == "count=1,bytes=10"
    # Apache's counter of refusals per namespace: one create under qc; a setData and a multi under qd.
    mntr = dict(l.split("\t", 1) for l in four_letter(srv.port, "mntr").decode().splitlines())
    assert (mntr.get("zk_qc_quota_exceeded_error_per_namespace"), mntr.get("zk_qd_quota_exceeded_error_per_namespace")) == ("1", "2")
    # The server keeps serving, and a delete is never refused.
    kz.delete("/qc/b")
    kz.create("/qc/c")
    # Quotas and their stats survive a restart (kill -9: rebuilt from the snapshot and log).
    kz.stop()
    srv.kill9()
    srv.start()
    kz = kazoo_factory(server=srv)
    assert stats(kz, "/qc") == "count=3,bytes=0" and stats(kz, "/qd") == "count=1,bytes=10"
    with pytest.raises(KazooException) as e:
        kz.create("/qc/d")
    assert type(e.value).__name__ == "QuotaExceededError", repr(e.value)
