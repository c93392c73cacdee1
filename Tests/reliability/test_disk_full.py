"""A standalone zkserver whose log directory fills up: writes are refused with an error (no crash),
reads keep working, writes resume when space returns, and no acknowledged write is lost across a
restart. Needs root to mount a small tmpfs (skipped with a loud message otherwise); the server itself
runs unprivileged (zktest.runas)."""
import os
import subprocess
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ZookeeperError

from zktest.server import ZKServer


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], capture_output=True, text=True)
    return r.returncode == 0, r.stderr.strip()


@pytest.fixture
def small_disk(tmp_path):
    path = str(tmp_path / "disk")
    if os.geteuid() != 0:
        pytest.skip("SKIPPED LOUDLY: the disk-full test needs root to mount a small tmpfs")
    ok, err = mount_tmpfs(path, "3m")
    if not ok:
        pytest.skip(f"SKIPPED LOUDLY: cannot mount a tmpfs here ({err})")
    yield path
    subprocess.run(["umount", "-l", path], capture_output=True)


def test_full_disk_refuses_writes_and_recovers_root_mounts_the_disk(small_disk, tmp_path):
    srv = ZKServer("zkserver", tmp_path, defaults=False,
                   extra_cfg={"tickTime": "500", "dataLogDir": small_disk, "4lw.commands.whitelist": "*",
                              "snapCount": "1000000"})
    z = None
    try:
        srv.start(timeout=30)   # serving, and without privilege
        z = KazooClient(hosts=srv.hosts, timeout=10)
        z.start(timeout=10)
        z.create("/fill", b"")
        acked, refused = [], 0
        value = b"v" * 20000
        for i in range(400):   # 8 MB into a 3 MB disk: it fills up well before the end
            try:
                z.create(f"/fill/n{i:04d}", value)
                acked.append(i)
            except ZookeeperError:
                refused += 1
                if refused >= 5:
                    break
        assert refused >= 5, "the disk never filled up"
        assert srv.running(), "the server died on a full disk"
        assert len(z.get_children("/fill")) == len(acked)   # reads still work
        # Space returns: writes are accepted again.
        subprocess.run(["mount", "-o", "remount,size=64m", small_disk], check=True)
        deadline = time.time() + 10
        while True:
            try:
                z.create("/after-space-returned", b"ok")
                break
            except ZookeeperError:
                assert time.time() < deadline, "writes were not accepted again after space returned"
                time.sleep(0.3)
        z.stop()
        z = None
        srv.kill9()
        # Restart: every acknowledged write is there, refused ones are not.
        srv.start(timeout=30)
        z = KazooClient(hosts=srv.hosts, timeout=10)
        z.start(timeout=10)
        kids = set(z.get_children("/fill"))
        assert kids == {f"n{i:04d}" for i in acked}
        assert z.get("/after-space-returned")[0] == b"ok"
        print(f"\nDISKFULL: {len(acked)} writes acknowledged before the disk filled, {refused} refused with an error, "
              f"all acknowledged ones present after restart")
    finally:
        if z is not None:
            z.stop()
        srv.stop()
