"""Short versions of the reliability run for CI: the real server must come out linearizable with no
acknowledged write lost under kill -9 and pauses; a deliberately broken server must be caught."""
import os
import subprocess
import sys

import pytest

RUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run.py")


def run(*args, timeout=240):
    p = subprocess.run([sys.executable, RUN, "--json", *args], capture_output=True, text=True, timeout=timeout)
    print(p.stdout)
    return p.returncode, p.stdout


@pytest.mark.parametrize("fault", [None, "slow-follower"])
def test_server_stays_linearizable_under_faults(fault):
    code, out = run("--seconds", "20", "--seed", "11", *(["--fault", fault] if fault else []))
    assert "checker verdict: linearizable" in out
    assert "lost: 0" in out and "anomalies found: 0" in out
    assert code == 0


def test_checker_catches_a_server_whose_sync_does_not_wait():
    code, out = run("--seconds", "20", "--seed", "11", "--fault", "stale-sync")
    assert "checker verdict: NOT linearizable" in out
    assert code == 1
