"""zkctl scale / restart --rolling / upgrade on real ensembles under client load.

    pytest Tests/interop/test_rolling.py -m "not slow"     # CI part: bundled 3->5->3, rolling restart of 3, bad input
    cd Tests && python3 -m interop.test_rolling --report    # the full report, both engines (slow)
    cd Tests && python3 -m interop.test_rolling --report --engine bundled
"""
import argparse
import contextlib
import json
import os
import shutil
import stat
import sys
import tempfile
import time

import pytest

from zktest.rolling import SCENARIOS, Cluster, run_scenario, table


def check_row(row):
    assert "error" not in row, row
    assert row["lost"] == 0, row
    assert row["failed"] == 0, row
    assert row["session_kept"], row


def test_scale_3_5_3_under_load():
    row = run_scenario("scale 3->5->3")
    print(table([row]))
    check_row(row)


def test_rolling_restart_of_3_under_load():
    row = run_scenario("rolling restart of 3")
    print(table([row]))
    check_row(row)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(nodes=3, name="bad")
    c.up()
    yield c
    c.down()


def assert_still_serving(c):
    st = c.status()
    assert st.get("state") == "healthy", st


def test_scale_to_zero_is_refused(cluster):
    p = cluster.zkctl("scale", "0", check=False)
    assert p.returncode != 0
    assert "at least one voter" in p.stderr
    assert_still_serving(cluster)


def test_scale_to_even_is_refused_without_allow_even(cluster):
    p = cluster.zkctl("scale", "4", check=False)
    assert p.returncode != 0 and "odd number" in p.stderr, p.stderr
    assert_still_serving(cluster)


def test_dry_run_prints_the_plan_and_changes_nothing(cluster):
    p = cluster.zkctl("scale", "5", "--dry-run")
    assert "quorum 3, tolerates 2 failures" in p.stdout, p.stdout
    assert "add node 4" in p.stdout and "add node 5" in p.stdout
    st = cluster.status()
    assert len(st.get("nodes", [])) == 3, st


def test_scale_with_a_member_down_is_refused(cluster):
    cluster.zkctl("node", "3", "stop")
    try:
        p = cluster.zkctl("scale", "1", check=False)
        assert p.returncode != 0 and "not healthy" in p.stderr, p.stderr
        p = cluster.zkctl("restart", "--rolling", check=False)
        assert p.returncode != 0 and "not healthy" in p.stderr, p.stderr
    finally:
        cluster.zkctl("node", "3", "start")
        cluster.zkctl("health", "--timeout", "60")


def test_even_count_with_allow_even_and_back(cluster):
    p = cluster.zkctl("scale", "2", "--allow-even", "--purge", "--output", "json")
    events = [json.loads(l) for l in p.stdout.splitlines()]
    assert [e["event"] for e in events if e["event"] in ("step", "done", "finished")] == ["step", "done", "finished"]
    st = cluster.status()
    assert st.get("state") == "healthy" and len(st["nodes"]) == 2, st
    p = cluster.zkctl("restart", "--rolling", check=False)
    assert p.returncode != 0 and "tolerate no failure" in p.stderr, p.stderr
    cluster.zkctl("scale", "3")
    st = cluster.status()
    assert st.get("state") == "healthy" and len(st["nodes"]) == 3, st


def test_stale_config_version_is_refused(cluster):
    """A reconfig with a stale curConfigId gets BADVERSION; the membership is unchanged."""
    from kazoo.client import KazooClient
    from kazoo.exceptions import BadVersionError
    with open(os.path.join(cluster.home, "clusters", cluster.name, "superuser.secret")) as f:
        password = f.read().strip()
    zk = KazooClient(hosts=cluster.hosts(3), auth_data=[("digest", f"super:{password}")])
    zk.start(timeout=30)
    try:
        data, _ = zk.get("/zookeeper/config")
        with pytest.raises(BadVersionError):
            zk.reconfig(joining=None, leaving="3", new_members=None, from_config=1)
        assert zk.get("/zookeeper/config")[0] == data
    finally:
        zk.stop()
        zk.close()
    assert_still_serving(cluster)


@contextlib.contextmanager
def fake_zkserver(script):
    """An executable named zkserver with the given shell script, removed afterwards."""
    d = tempfile.mkdtemp()
    path = os.path.join(d, "zkserver")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + script)
    os.chmod(path, stat.S_IRWXU)
    try:
        yield path
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_upgrade_to_a_binary_that_does_not_start_stops_safely(cluster):
    with fake_zkserver("echo 'this zkserver does not start' >&2\nexit 3\n") as bad:
        p = cluster.zkctl("upgrade", "--to", bad, "--output", "json", check=False, timeout=300)
        assert p.returncode != 0
        assert "stopped at step 1/3" in p.stderr and "previous command line" in p.stderr, p.stderr
        assert "To resume" in p.stderr
        events = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
        assert events[0]["event"] == "plan" and events[-1]["event"] == "aborted"
        cluster.zkctl("health", "--timeout", "60")
        assert_still_serving(cluster)


def test_upgrade_across_peer_protocol_versions_is_refused(cluster):
    """A zkserver of another peer protocol version (here one that answers --version like the builds
    before it existed) could not rejoin: zkctl refuses before touching any node."""
    with fake_zkserver("echo 'Error: give a zoo.cfg path' >&2\necho 'Usage: zkserver [<config>]' >&2\nexit 64\n") as old:
        before = cluster.zkctl("status", "--output", "json").stdout
        p = cluster.zkctl("upgrade", "--to", old, check=False, timeout=60)
        assert p.returncode != 0
        assert "refused, nothing was changed" in p.stderr, p.stderr
        assert "speaks zkserver peer protocol 1 and the running members speak 2" in p.stderr, p.stderr
        pids = lambda s: sorted(n["pid"] for n in json.loads(s)["nodes"])
        assert pids(cluster.zkctl("status", "--output", "json").stdout) == pids(before)
        assert_still_serving(cluster)


def test_upgrade_to_a_binary_that_never_syncs_stops_safely(cluster):
    """The new 'server' runs but never serves: zkctl gives up after --sync-timeout, puts the node
    back on its previous binary and stops; the ensemble keeps serving."""
    with fake_zkserver('exec python3 -c "import time; time.sleep(120)" "$@"\n') as mute:
        began = time.monotonic()
        p = cluster.zkctl("upgrade", "--to", mute, "--sync-timeout", "5", check=False, timeout=300)
        assert p.returncode != 0
        assert "stopped at step 1/3" in p.stderr and "did not sync within 5s" in p.stderr, p.stderr
        assert "It is back and synced" in p.stderr, p.stderr
        assert time.monotonic() - began < 60
        assert_still_serving(cluster)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report", action="store_true", help="run every scenario and print the report")
    ap.add_argument("--engine", action="append", choices=["bundled", "apache"])
    ap.add_argument("--scenario", action="append", choices=list(SCENARIOS))
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    import logging
    logging.disable(logging.CRITICAL)   # kazoo logs every dropped connection
    if not args.report:
        ap.print_help()
        return 2
    engines = args.engine or ["bundled", "apache"]
    scenarios = args.scenario or ["scale 3->5", "scale 5->3", "scale 3->5 +1 observer",
                                  "rolling restart of 3", "rolling restart of 5", "upgrade of 3"]
    rows = []
    began = time.monotonic()
    ok = True
    for engine in engines:
        for s in scenarios:
            row = run_scenario(s, engine=engine)
            rows.append(row)
            print(f"  {engine:8} {s:24} done in {row.get('total_seconds', '?')}s", file=sys.stderr, flush=True)
            ok = ok and "error" not in row and row.get("lost") == 0 and row.get("failed") == 0 and row.get("session_kept")
    for engine in engines:
        print(f"\nengine: {engine}")
        print(table([r for r in rows if r["engine"] == engine]))
    print(f"\nreport took {time.monotonic() - began:.0f}s; {'all checks passed' if ok else 'SOME CHECKS FAILED'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1, default=str)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
