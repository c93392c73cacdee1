"""A data directory written by the previous release's standalone zkserver starts under this one.

`fixtures/previous-standalone` holds what that release wrote (snapshots of the tree alone, no hard
state): 150 znodes under /app, /app set to b"after", and an ephemeral /app/lock owned by a session
that was still open when the server was killed with SIGKILL. This release converts the directory once
(saying so in its log), serves the same data, keeps the session and its ephemeral, lets the client
resume the session by id and password, and starts again without converting a second time.
"""
import re
import shutil
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from zktest.server import ZKServer

FIXTURE = Path(__file__).parent / "fixtures" / "previous-standalone"
SESSION_ID = 117745063464534016
PASSWORD = bytes.fromhex("cf6aeb949ef9f99416571f16ddbd0059")


def test_a_previous_standalone_data_directory_starts_with_its_data_and_sessions(zk_kind, tmp_path):
    if zk_kind != "zkserver":
        pytest.skip("the fixture is zkserver's own on-disk layout")
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, data)
    srv = ZKServer("zkserver", tmp_path, extra_cfg={"dataLogDir": str(data)})
    z = None
    try:
        srv.start(timeout=30)
        log = srv.log_text()
        assert re.search(r"converted 2 snapshots in .* from the previous standalone layout", log), srv.log_tail()
        # The session that was open when the old server died: resumed by id and password, its ephemeral there.
        z = KazooClient(hosts=srv.hosts, client_id=(SESSION_ID, PASSWORD), timeout=30)
        z.start(timeout=10)
        assert z.client_id[0] == SESSION_ID
        value, stat = z.get("/app/lock")
        assert value == b"held" and stat.ephemeralOwner == SESSION_ID
        assert z.get("/app")[0] == b"after"
        kids = set(z.get_children("/app"))
        assert kids == {f"n{i:03d}" for i in range(150)} | {"lock"}
        assert z.get("/app/n149")[0] == b"v149"
        # It takes writes, which survive a restart; the second start converts nothing. Closing the
        # resumed session deletes its ephemeral, as any close does.
        z.create("/app/new", b"this release")
        z.stop()
        z = None
        srv.stop()
        srv.start(timeout=30)
        assert srv.log_text().count("from the previous standalone layout") == 1
        z = KazooClient(hosts=srv.hosts, timeout=10)
        z.start(timeout=10)
        assert z.get("/app/new")[0] == b"this release"
        assert set(z.get_children("/app")) == {f"n{i:03d}" for i in range(150)} | {"new"}
    finally:
        if z is not None:
            z.stop()
        srv.stop()
