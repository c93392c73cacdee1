"""A standalone zkserver whose log directory fills up: writes are refused with an error (no crash),
reads keep working, writes resume when space returns, and no acknowledged write is lost across a
restart. Needs root to mount a small tmpfs (skipped with a loud message otherwise); the server itself
runs unprivileged (runas)."""
import os
import subprocess
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ZookeeperError

from zktest import runas
from zktest.binaries import zkserver
from zktest.ports import free_ports
from zktest.words import is_ok


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


def test_full_disk_refuses_writes_and_recovers(small_disk, tmp_path):
    (port,) = free_ports(1)
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text(f"tickTime=500\ndataDir={tmp_path}/data\ndataLogDir={small_disk}\nclientPort={port}\n"
                   f"clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nsnapCount=1000000\n")
    log = open(tmp_path / "server.log", "a")
    runas.give(tmp_path)
    proc = subprocess.Popen(runas.command([str(zkserver()), str(cfg)]), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    z = None
    try:
        for _ in range(100):
            if is_ok(port):
                break
            time.sleep(0.1)
        runas.assert_unprivileged(proc.pid)
        z = KazooClient(hosts=f"127.0.0.1:{port}", timeout=10)
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
        assert proc.poll() is None, "the server died on a full disk"
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
        proc.kill()
        proc.wait(timeout=10)
        # Restart: every acknowledged write is there, refused ones are not.
        proc = subprocess.Popen(runas.command([str(zkserver()), str(cfg)]), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for _ in range(100):
            if is_ok(port):
                break
            time.sleep(0.1)
        z = KazooClient(hosts=f"127.0.0.1:{port}", timeout=10)
        z.start(timeout=10)
        kids = set(z.get_children("/fill"))
        assert kids == {f"n{i:04d}" for i in acked}
        assert z.get("/after-space-returned")[0] == b"ok"
        print(f"\nDISKFULL: {len(acked)} writes acknowledged before the disk filled, {refused} refused with an error, "
              f"all acknowledged ones present after restart")
    finally:
        if z is not None:
            z.stop()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
