"""Dynamic reconfiguration on a real zkserver ensemble (127.0.0.1, free ports, processes ended by PID).

Adds a voter, removes one (the leader included), and checks the refusals: no authority, a stale
config version, a change of two voters at once, and reconfig while disabled."""
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (BadArgumentsError, BadVersionError, NewConfigNoQuorumError, NoAuthError,
                               ReconfigDisabledError, ZookeeperError)

from zktest.binaries import server_kind
from zktest.ensemble import Ensemble
from zktest.server import SUPER_DIGEST

pytestmark = pytest.mark.skipif(server_kind() != "zkserver", reason="starts zkserver ensembles of its own")


@pytest.fixture
def ensemble(tmp_path):
    made = []

    def make(count=3, reconfig=True):
        cfg = {"standaloneEnabled": "false", "DigestAuthenticationProvider.superDigest": SUPER_DIGEST}
        if reconfig:
            cfg["reconfigEnabled"] = "true"
        e = Ensemble("zkserver", tmp_path, voters=count, spare=1, extra_cfg=cfg)
        made.append(e)
        e.start()
        e.wait_stable(timeout=30)
        return e
    yield make
    for e in made:
        e.close()


def modes(e, sids):
    """The modes of the given members, once they form a stable ensemble."""
    e.wait_stable(timeout=30, nodes=[e.node(i) for i in sids])
    return sorted(e.modes([e.node(i) for i in sids]).values())


def client(hosts, auth=True):
    z = KazooClient(hosts=hosts, timeout=10)
    z.start(timeout=10)
    if auth:
        z.add_auth("digest", "super:test")
    return z


def test_add_a_voter_then_remove_members_including_the_leader(ensemble):
    e = ensemble(3)
    joiner = e.node(4)
    joiner.start(members=[1, 2, 3, 4])   # a joiner knows the current members and itself
    z = client(e.connect_string([1, 2, 3]))
    try:
        z.create("/before", b"1")
        data, _ = z.reconfig(joining=joiner.server_line(), leaving=None, new_members=None)
        text = data.decode()
        assert joiner.server_line() in text and text.splitlines()[-1].startswith("version=")
        assert modes(e, [1, 2, 3, 4]) == ["follower", "follower", "follower", "leader"]
        z4 = client(joiner.hosts, auth=False)
        z4.sync("/")
        assert z4.exists("/before") is not None   # the joiner caught up
        z4.stop()
        leader = next(i for i in (1, 2, 3, 4) if e.node(i).mode() == "leader")
        for attempt in range(50):
            try:
                data, _ = z.reconfig(joining=None, leaving=str(leader), new_members=None)
                break
            except ZookeeperError:
                time.sleep(0.2)   # connection moved during the leader hand-off
        assert f"server.{leader}=" not in data.decode()
        rest = [i for i in (1, 2, 3, 4) if i != leader]
        assert modes(e, rest).count("leader") == 1
        assert e.node(leader).mode() is None   # removed: no longer serving
        digests = {e.node(i).mntr()["zk_digest"] for i in rest}
        assert len(digests) == 1
    finally:
        z.stop()


def test_refusals_keep_the_ensemble_serving(ensemble):
    e = ensemble(3)
    anon = client(e.hosts, auth=False)
    z = client(e.hosts)
    try:
        with pytest.raises(NoAuthError):
            anon.reconfig(joining=None, leaving="3", new_members=None)
        with pytest.raises(BadVersionError):
            z.reconfig(joining=None, leaving="3", new_members=None, from_config=0x12345)
        with pytest.raises(BadArgumentsError):   # two voters at once: quorums of old and new might not overlap
            z.reconfig(joining=None, leaving="2,3", new_members=None)
        with pytest.raises(BadArgumentsError):
            z.reconfig(joining="server.9=nonsense", leaving=None, new_members=None)
        # Adding a voter is refused while too few of the new membership are synced with the leader:
        # pause one follower, ask the leader directly.
        leader = e.leader()
        follower = next(n for n in e.nodes if n is not leader)
        zl = client(leader.hosts)
        follower.pause()
        try:
            time.sleep(1.5)
            with pytest.raises(NewConfigNoQuorumError):
                zl.reconfig(joining=e.node(4).server_line(), leaving=None, new_members=None)
        finally:
            follower.resume()
            zl.stop()
        z.create("/still-writable", b"")
        assert e.wait_stable(timeout=30)
    finally:
        anon.stop()
        z.stop()


def test_reconfig_is_refused_when_disabled(ensemble):
    e = ensemble(3, reconfig=False)
    z = client(e.hosts)
    try:
        with pytest.raises(ReconfigDisabledError):
            z.reconfig(joining=None, leaving="3", new_members=None)
    finally:
        z.stop()
