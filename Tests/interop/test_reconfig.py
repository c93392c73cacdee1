"""Dynamic reconfiguration on a real zkserver ensemble (127.0.0.1, free ports, processes ended by PID).

Adds a voter, removes one (the leader included), and checks the refusals: no authority, a stale
config version, a change of two voters at once, and reconfig while disabled."""
import os
import signal
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (BadArgumentsError, BadVersionError, NewConfigNoQuorumError, NoAuthError,
                               ReconfigDisabledError, ZookeeperError)

from reliability.zkcluster import Ensemble
from zktest.binaries import server_kind
from zktest.server import SUPER_DIGEST as SUPER
from zktest.words import four_letter, mode

pytestmark = pytest.mark.skipif(server_kind() != "zkserver", reason="starts zkserver ensembles of its own")


def four(port, word):
    return four_letter(port, word).decode(errors="replace")


@pytest.fixture
def ensemble(tmp_path):
    made = []

    def make(count=3, extra="reconfigEnabled=true"):
        e = Ensemble(str(tmp_path), count, extra=f"{extra}\nDigestAuthenticationProvider.superDigest={SUPER}", spare=1)
        e.start_all()
        e.wait_serving()
        made.append(e)
        return e
    yield make
    for e in made:
        e.stop()


def client(hosts, auth=True):
    z = KazooClient(hosts=hosts, timeout=10)
    z.start(timeout=10)
    if auth:
        z.add_auth("digest", "super:test")
    return z


def test_add_a_voter_then_remove_members_including_the_leader(ensemble):
    e = ensemble(3)
    e.start(4, [1, 2, 3, 4])   # a joiner knows the current members and itself
    z = client(e.hosts([1, 2, 3]))
    try:
        z.create("/before", b"1")
        data, _ = z.reconfig(joining=e.spec(4), leaving=None, new_members=None)
        text = data.decode()
        assert e.spec(4) in text and text.splitlines()[-1].startswith("version=")
        modes = e.wait_serving([1, 2, 3, 4])
        assert sorted(modes) == ["follower", "follower", "follower", "leader"]
        z4 = client(e.hosts([4]), auth=False)
        z4.sync("/")
        assert z4.exists("/before") is not None   # the joiner caught up
        z4.stop()
        leader = [i for i in (1, 2, 3, 4) if mode(e.client_port(i)) == "leader"][0]
        for attempt in range(50):
            try:
                data, _ = z.reconfig(joining=None, leaving=str(leader), new_members=None)
                break
            except ZookeeperError:
                time.sleep(0.2)   # connection moved during the leader hand-off
        assert f"server.{leader}=" not in data.decode()
        rest = [i for i in (1, 2, 3, 4) if i != leader]
        modes = e.wait_serving(rest)
        assert modes.count("leader") == 1
        assert mode(e.client_port(leader)) is None   # removed: no longer serving
        digests = {four(e.client_port(i), "mntr").split("zk_digest\t")[1].split()[0] for i in rest}
        assert len(digests) == 1
    finally:
        z.stop()


def test_refusals_keep_the_ensemble_serving(ensemble):
    e = ensemble(3)
    anon = client(e.hosts([1, 2, 3]), auth=False)
    z = client(e.hosts([1, 2, 3]))
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
        leader = [i for i in (1, 2, 3) if mode(e.client_port(i)) == "leader"][0]
        follower = [i for i in (1, 2, 3) if i != leader][0]
        zl = client(e.hosts([leader]))
        os.kill(e.procs[follower].pid, signal.SIGSTOP)
        try:
            time.sleep(1.5)
            with pytest.raises(NewConfigNoQuorumError):
                zl.reconfig(joining=e.spec(4), leaving=None, new_members=None)
        finally:
            os.kill(e.procs[follower].pid, signal.SIGCONT)
            zl.stop()
        z.create("/still-writable", b"")
        assert e.wait_serving([1, 2, 3])
    finally:
        anon.stop()
        z.stop()


def test_reconfig_is_refused_when_disabled(ensemble):
    e = ensemble(3, extra="")
    z = client(e.hosts([1, 2, 3]))
    try:
        with pytest.raises(ReconfigDisabledError):
            z.reconfig(joining=None, leaving="3", new_members=None)
    finally:
        z.stop()
