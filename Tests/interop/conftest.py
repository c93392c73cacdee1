"""Fixtures for the interop suite.

ZK_SERVER=zkserver (default) or apache picks the server under test; ZKSERVER_BIN overrides the
zkserver binary (default .build/debug/zkserver under the repository root). The harness is the package
Tests/zktest (importable through Tests/pytest.ini).

The suite runs as a normal account, as users run the servers and zkctl: it refuses to run as root
(.ci/run runs it as the unprivileged account zkuser through .ci/unprivileged).
"""
import os
import re
import uuid

import pytest

from zktest.binaries import server_kind
from zktest.server import ZKServer


def pytest_configure(config):
    if os.geteuid() == 0:
        pytest.exit("Tests/interop starts zkserver and zkctl as the account that runs it, and users do not run them "
                    "as root: run it as a normal account (for example `runuser -u zkuser -- ...`; .ci/run does)",
                    returncode=2)
    config.addinivalue_line("markers", "slow: takes more than a few seconds (deselect with -m 'not slow')")


def known_failures():
    """file::test -> reason, from known-failures.txt (zkserver only, unless ZK_STRICT=1)."""
    if server_kind() != "zkserver" or os.environ.get("ZK_STRICT") == "1":
        return {}
    known = {}
    with open(os.path.join(os.path.dirname(__file__), "known-failures.txt")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                test, _, reason = line.partition("  ")
                known[test] = reason.strip()
    return known


def pytest_collection_modifyitems(config, items):
    known = known_failures()
    for item in items:
        reason = known.get(f"{item.path.name}::{item.name}")
        if reason:
            item.add_marker(pytest.mark.xfail(reason=f"known zkserver failure: {reason}",
                                              strict=False))


def pytest_report_header(config):
    return f"interop: ZK_SERVER={server_kind()}"


def _start(kind, tmp_path_factory, name, extra_cfg=None):
    srv = ZKServer(kind, tmp_path_factory.mktemp(name), extra_cfg=extra_cfg)
    try:
        srv.start()
    except Exception as exc:
        srv.stop()
        pytest.fail(f"could not start {kind}: {exc}", pytrace=False)
    return srv


@pytest.fixture(scope="session")
def zk_kind():
    return server_kind()


@pytest.fixture(scope="module")
def zk(zk_kind, tmp_path_factory):
    """The server under test, shared by the tests of one module (tests use their own paths)."""
    srv = _start(zk_kind, tmp_path_factory, "zk")
    yield srv
    srv.stop()


@pytest.fixture
def fresh_zk(zk_kind, tmp_path_factory):
    """A server under test with an empty tree, for this test only."""
    srv = _start(zk_kind, tmp_path_factory, "zkfresh")
    yield srv
    srv.stop()


@pytest.fixture
def zk_factory(zk_kind, tmp_path_factory):
    """Start extra servers under test with custom zoo.cfg keys; all are stopped afterwards."""
    started = []

    def make(extra_cfg=None, start=True, omit=()):
        srv = ZKServer(zk_kind, tmp_path_factory.mktemp("zkcustom"), extra_cfg=extra_cfg, omit=omit)
        started.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def apache_zk(tmp_path_factory):
    """An Apache ZooKeeper reference server with an empty tree, whatever ZK_SERVER says."""
    srv = _start("apache", tmp_path_factory, "apache")
    yield srv
    srv.stop()


@pytest.fixture
def kazoo_factory(zk):
    """Make started KazooClients for a server (default: the module's server); all are closed."""
    from kazoo.client import KazooClient

    clients = []

    def make(server=None, **kwargs):
        srv = server or zk
        kwargs.setdefault("timeout", 10.0)
        client = KazooClient(hosts=srv.hosts, **kwargs)
        clients.append(client)
        client.start(timeout=15)
        return client

    yield make
    for client in clients:
        try:
            client.stop()
            client.close()
        except Exception:
            pass


@pytest.fixture
def kz(kazoo_factory):
    return kazoo_factory()


@pytest.fixture
def base(request, kz):
    """A fresh persistent path for this test, e.g. /t-test_create-1a2b3c."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:60]
    path = f"/t-{name}-{uuid.uuid4().hex[:6]}"
    kz.create(path)
    return path
