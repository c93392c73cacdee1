"""A loopback ensemble from `zkctl up` (bundled engine) for a test: its own zkctl home, free ports,
and `zkctl down --purge` afterwards."""
import contextlib
import os
import subprocess

import pytest

from zktest import binaries
from zktest.ports import free_base_port


@contextlib.contextmanager
def zkctl_cluster(tmp_path, name, nodes=3):
    """Yields (zkctl, base): a function running zkctl with the cluster's environment, and the base
    port (client ports base..base+nodes-1, metrics ports base+400...)."""
    if not os.path.exists(binaries.zkctl()):
        pytest.skip(f"zkctl not built at {binaries.zkctl()} (set ZKCTL_BIN)")
    env = dict(os.environ, ZKCTL_HOME=str(tmp_path / "home"), ZKCTL_ZKSERVER=str(binaries.zkserver()))
    base = free_base_port()

    def zkctl(*args, timeout=120):
        return subprocess.run([binaries.zkctl(), *args], capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=timeout)

    up = zkctl("up", "-n", str(nodes), "--base-port", str(base), "--name", name, "--timeout", "90")
    try:
        assert up.returncode == 0, up.stderr
        yield zkctl, base
    finally:
        zkctl("down", "-c", name, "--purge", timeout=60)
