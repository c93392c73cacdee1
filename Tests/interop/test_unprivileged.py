"""zkctl and zkserver as their users run them: an ordinary account (the suite refuses root), an
installed copy of the two binaries with no templates directory anywhere near them, run from the
account's home directory. up, status, a client, scale, a rolling restart and down must all work, and
every server must run as this account with no capability."""
import json
import os
import shutil
import subprocess
import time

import pytest
from kazoo.client import KazooClient

from zktest import binaries
from zktest.binaries import server_kind
from zktest.ports import free_base

pytestmark = pytest.mark.skipif(server_kind() != "zkserver",
                                reason="the installed pair is zkctl with its bundled zkserver")


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


@pytest.fixture
def installed(tmp_path):
    """zkctl and zkserver copied into a bin directory of their own, a fresh HOME, and an environment
    with nothing that points back into the source tree."""
    if not os.path.exists(binaries.zkctl()):
        pytest.skip(f"zkctl not built at {binaries.zkctl()} (set ZKCTL_BIN)")
    bindir, home = tmp_path / "bin", tmp_path / "home"
    bindir.mkdir()
    home.mkdir()
    for exe in (binaries.zkctl(), binaries.zkserver()):
        shutil.copy2(exe, bindir / os.path.basename(exe))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZKCTL_")}
    env.update(HOME=str(home), PATH=f"{bindir}:/usr/local/bin:/usr/bin:/bin")
    name = "local"

    def zkctl(*args, timeout=120):
        return subprocess.run(["zkctl", *args], capture_output=True, text=True, env=env, cwd=home,
                              stdin=subprocess.DEVNULL, timeout=timeout)
    try:
        yield zkctl, home
    finally:
        zkctl("down", "-c", name, "--purge", timeout=60)


def with_client(base, count, use):
    """use(client) with a kazoo session on the first `count` nodes; returns what use returns."""
    kz = KazooClient(hosts=",".join(f"127.0.0.1:{base + i}" for i in range(count)), timeout=10)
    kz.start(timeout=15)
    try:
        return use(kz)
    finally:
        kz.stop()
        kz.close()


def healthy_nodes(zkctl, count):
    p = zkctl("status", "-o", "json")
    assert p.returncode == 0, p.stdout + p.stderr
    st = json.loads(p.stdout)
    assert st["state"] == "healthy", st
    nodes = [n for n in st["nodes"] if n.get("pid")]
    assert len(nodes) == count, st
    return st, nodes


def test_installed_zkctl_runs_an_ensemble_as_a_normal_user(installed):
    zkctl, home = installed
    assert os.geteuid() != 0
    base = free_base(count=5)
    t0 = time.monotonic()
    up = zkctl("up", "-n", "3", "--base-port", str(base), "--timeout", "60")
    took = time.monotonic() - t0
    assert up.returncode == 0, up.stdout + up.stderr
    st, nodes = healthy_nodes(zkctl, 3)
    # The cluster lives under this account's home, and its servers are this account's, unprivileged.
    assert os.path.isdir(home / ".zkctl" / "clusters" / "local")
    for n in nodes:
        s = proc_status(n["pid"])
        assert [int(x) for x in s["Uid"]] == [os.getuid()] * 4, s["Uid"]
        assert int(s["CapEff"][0], 16) == 0, s["CapEff"]
    print(f"\nUNPRIVILEGED: uid {os.getuid()}: up healthy in {took:.2f}s from {home}")

    with_client(base, 3, lambda kz: kz.create("/unprivileged", b"kept"))

    p = zkctl("scale", "5", timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    healthy_nodes(zkctl, 5)
    p = zkctl("restart", "--rolling", timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    _, nodes = healthy_nodes(zkctl, 5)

    with_client(base, 5, lambda kz: kz.sync("/unprivileged"))
    assert with_client(base, 5, lambda kz: kz.get("/unprivileged")[0]) == b"kept"

    p = zkctl("down", "--purge", timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    for n in nodes:
        assert not os.path.exists(f"/proc/{n['pid']}") or proc_status(n["pid"]).get("State", ["Z"])[0] == "Z"


def test_installed_zkctl_generates_deployments_from_any_directory(installed):
    zkctl, home = installed
    inv = home / "production-3.yaml"
    shutil.copy(os.path.join(os.path.dirname(__file__), "..", "..", "inventory", "production-3.yaml"), inv)
    for kind, extra in (("kubernetes", ["--engine", "bundled"]), ("ansible", [])):
        p = zkctl("generate", kind, "-i", str(inv), *extra, "-o", str(home / kind))
        assert p.returncode == 0, p.stdout + p.stderr
    assert (home / "kubernetes" / "statefulset.yaml").read_text().count("runAsNonRoot: true") == 1
    assert (home / "ansible" / "site.yml").exists()
    # A templates directory that is not there is a clear error, not a silent fallback.
    p = zkctl("generate", "kubernetes", "--templates", str(home / "nope"), "-i", str(inv))
    assert p.returncode != 0
    assert "does not exist" in p.stderr and str(home / "nope") in p.stderr, p.stderr


def test_zkserver_started_by_hand_answers_as_this_account(tmp_path):
    """The reproduction of the unprivileged-server report: zkserver started directly (no zkctl) by this
    account with a plain zoo.cfg, no capability, and ruok (as `echo ruok | nc` sends it) and kazoo. ruok
    answers imok with a `4lw.commands.whitelist` and without one (where Apache ZooKeeper 3.8 answers only
    srvr)."""
    assert os.geteuid() != 0
    from zktest.ports import free_port
    from zktest.words import four_letter
    for whitelist, expected in (("4lw.commands.whitelist=ruok,srvr\n", b"imok"),
                                ("", b"imok")):
        port = free_port()
        d = tmp_path / f"p{port}"
        d.mkdir()
        (d / "zoo.cfg").write_text(f"tickTime=2000\ndataDir={d}/data\nclientPort={port}\n{whitelist}")
        log = open(d / "server.log", "w")
        proc = subprocess.Popen([binaries.zkserver(), str(d / "zoo.cfg")], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=d)
        try:
            answer, deadline = b"", time.monotonic() + 10
            while time.monotonic() < deadline and not answer:
                try:
                    answer = four_letter(port, "ruok", timeout=2)
                except OSError:
                    time.sleep(0.05)
            assert answer == expected, (answer, (d / "server.log").read_text())
            assert int(proc_status(proc.pid)["CapEff"][0], 16) == 0
            kz = KazooClient(hosts=f"127.0.0.1:{port}", timeout=10)
            kz.start(timeout=15)
            try:
                kz.create("/by-hand", b"unprivileged")
                assert kz.get("/by-hand")[0] == b"unprivileged"
            finally:
                kz.stop()
                kz.close()
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            log.close()
