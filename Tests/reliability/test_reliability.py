"""Short versions of the reliability run for CI: the real server must come out linearizable with no
acknowledged write lost under kill -9 and pauses; a deliberately broken server must be caught."""
import os
import subprocess
import sys

import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, timeout=240):
    """reliability/run.py, run as the module reliability.run from Tests/ (where the zktest package is)."""
    p = subprocess.run([sys.executable, "-m", "reliability.run", "--json", *args], cwd=TESTS,
                       capture_output=True, text=True, timeout=timeout)
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
