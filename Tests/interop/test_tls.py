"""TLS: zkserver's secureClientPort with real clients (kazoo, the Java client) and an ensemble whose
members talk over mutual TLS (sslQuorum). Certificates come from `zkctl tls init`.

zkctl is found through ZKCTL_BIN, else next to ZKSERVER_BIN, else .build/debug/zkctl (zktest.binaries).
"""
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_acl, make_digest_acl
from kazoo.handlers.threading import KazooTimeoutError

from zktest import binaries
from zktest.binaries import REPO_ROOT, server_kind
from zktest.cli import JAVA_CLASSPATH, ZKCLI_MAIN
from zktest.ensemble import Ensemble, wait_for
from zktest.ports import free_base_port, free_port
from zktest.server import ZKServer

# zkserver is started directly (ZK_SERVER=apache does not apply); the zkctl test also runs the apache engine.
pytestmark = pytest.mark.skipif(server_kind() != "zkserver", reason="TLS tests run against zkserver")


def tls_init(home, name):
    """`zkctl tls init` for a generated 3-node cluster; returns its tls dir."""
    binary = binaries.zkctl()
    if not binary.is_file():
        pytest.fail(f"zkctl not found at {binary}: run `swift build` or set ZKCTL_BIN", pytrace=False)
    p = subprocess.run([str(binary), "tls", "init", "--home", str(home), "--name", name, "-n", "3"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    tls = Path(home) / "clusters" / name / "tls"
    assert "created " + str(tls / "ca.pem") in p.stdout
    return tls


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    home = tmp_path_factory.mktemp("zkctl-home")
    good = tls_init(home, "tls")
    other = tls_init(home, "other")   # another CA: its certificates must not be accepted
    return {"dir": good, "other": other}


def tls_cfg(certs, port, client_auth="need", keystore=None):
    d = certs["dir"]
    return {
        "secureClientPort": str(port),
        "secureClientPortAddress": "127.0.0.1",
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "ssl.keyStore.location": str(keystore or d / "node-1.pem"),
        "ssl.keyStore.type": "PEM",
        "ssl.trustStore.location": str(d / "ca.pem"),
        "ssl.trustStore.type": "PEM",
        "ssl.clientAuth": client_auth,
    }


@pytest.fixture(scope="module")
def tls_zk(certs, tmp_path_factory):
    port = free_port()
    srv = ZKServer("zkserver", tmp_path_factory.mktemp("tlszk"), extra_cfg=tls_cfg(certs, port))
    srv.secure_port = port
    srv.start()
    yield srv
    srv.stop()


def kazoo_tls(port, certs, cert=True, ca_dir=None, timeout=10):
    d = ca_dir or certs["dir"]
    kw = {"certfile": str(d / "client-cert.pem"), "keyfile": str(d / "client-key.pem")} if cert else {}
    zk = KazooClient(hosts=f"127.0.0.1:{port}", use_ssl=True, verify_certs=True, ca=str(certs["dir"] / "ca.pem"),
                     timeout=10, **kw)
    zk.start(timeout=timeout)
    return zk


def test_kazoo_crud_over_tls(tls_zk, certs):
    zk = kazoo_tls(tls_zk.secure_port, certs)
    try:
        zk.create("/tls-crud", b"one")
        assert zk.get("/tls-crud")[0] == b"one"
        zk.set("/tls-crud", b"two")
        zk.create("/tls-crud/child", b"", ephemeral=True)
        assert zk.get_children("/tls-crud") == ["child"]
        assert zk.get("/tls-crud")[0] == b"two"
        zk.delete("/tls-crud", recursive=True)
        assert zk.exists("/tls-crud") is None
    finally:
        zk.stop()
        zk.close()


def test_plain_and_tls_ports_share_one_tree(tls_zk, certs):
    plain = KazooClient(hosts=tls_zk.hosts, timeout=10)
    plain.start(timeout=10)
    secure = kazoo_tls(tls_zk.secure_port, certs)
    try:
        plain.create("/shared-by-ports", b"plain")
        assert secure.get("/shared-by-ports")[0] == b"plain"
    finally:
        for z in (plain, secure):
            z.stop()
            z.close()


def handshake_then_read(port, certs, cert_dir=None):
    """A TLS connection with the given client identity (None: none); returns the first bytes the server
    sends after a ZooKeeper connect request, or raises what the TLS layer raised."""
    ctx = ssl.create_default_context(cafile=str(certs["dir"] / "ca.pem"))
    if cert_dir is not None:
        ctx.load_cert_chain(str(cert_dir / "client-cert.pem"), str(cert_dir / "client-key.pem"))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            # ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd(16)
            body = (0).to_bytes(4, "big") + (0).to_bytes(8, "big") + (10000).to_bytes(4, "big") \
                + (0).to_bytes(8, "big") + (16).to_bytes(4, "big") + bytes(16)
            s.sendall(len(body).to_bytes(4, "big") + body)
            return s.recv(4)


def test_client_without_a_trusted_certificate_is_refused(tls_zk, certs):
    assert len(handshake_then_read(tls_zk.secure_port, certs, certs["dir"])) == 4   # the good identity works
    for identity in (None, certs["other"]):   # no certificate; a certificate from another CA
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            data = handshake_then_read(tls_zk.secure_port, certs, identity)
            if data == b"":
                raise ConnectionResetError("closed")   # TLS 1.3: the alert may arrive as a close
    with pytest.raises(KazooTimeoutError):
        kazoo_tls(tls_zk.secure_port, certs, cert=False, timeout=4)
    assert tls_zk.running()
    assert "refused TLS client 127.0.0.1" in tls_zk.log_path.read_text() or \
        "refused TLS client [IPv4]127.0.0.1" in tls_zk.log_path.read_text(), tls_zk.log_tail()


@pytest.mark.parametrize("client_auth", ["none", "want"])
def test_client_auth_none_or_want_accepts_a_client_without_certificate(certs, tmp_path, client_auth):
    port = free_port()
    srv = ZKServer("zkserver", tmp_path, extra_cfg=tls_cfg(certs, port, client_auth=client_auth))
    srv.start()
    try:
        zk = kazoo_tls(port, certs, cert=False)
        zk.create("/no-client-cert", b"x")
        zk.stop()
        zk.close()
        if client_auth == "want":   # a certificate that is presented must still verify
            with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
                if handshake_then_read(port, certs, certs["other"]) == b"":
                    raise ConnectionResetError("closed")
    finally:
        srv.stop()


def listening_ports(pid):
    """TCP ports the process listens on, from /proc (its socket inodes matched against /proc/net/tcp*)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:   # 0A: LISTEN
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def test_secure_client_port_alone_serves_tls_clients_only(certs, tmp_path):
    """secureClientPort without clientPort (as Apache ZooKeeper allows): one TLS listener, no plain port."""
    port = free_port()
    srv = ZKServer("zkserver", tmp_path, extra_cfg=tls_cfg(certs, port), omit=("clientPort", "clientPortAddress"))
    srv.start(wait=False)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert srv.proc.poll() is None, srv.log_tail()
            try:
                zk = kazoo_tls(port, certs, timeout=2)
                break
            except KazooTimeoutError:
                assert time.monotonic() < deadline, srv.log_tail()
        try:
            zk.create("/tls-only", b"x")
            assert zk.get("/tls-only")[0] == b"x"
        finally:
            zk.stop()
            zk.close()
        assert listening_ports(srv.proc.pid) == {port}
        assert "no plain client port: TLS clients only" in srv.log_path.read_text()
    finally:
        srv.stop()


def test_server_certificate_is_checked_by_the_client(certs, tmp_path):
    """A server presenting another CA's certificate is refused by a verifying client."""
    port = free_port()
    srv = ZKServer("zkserver", tmp_path, extra_cfg=tls_cfg(certs, port, keystore=certs["other"] / "node-1.pem"))
    srv.start()
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            handshake_then_read(port, certs, certs["dir"])
    finally:
        srv.stop()


@pytest.mark.parametrize("change, expected", [
    ({"ssl.keyStore.location": "/nonexistent/node.pem"}, "ssl.keyStore.location: '/nonexistent/node.pem' does not exist"),
    ({"ssl.trustStore.location": "/nonexistent/ca.pem"}, "ssl.trustStore.location: '/nonexistent/ca.pem' does not exist"),
    ({"ssl.keyStore.password": "wrong"}, "ssl.keyStore.password does not decrypt it"),
    ({"ssl.keyStore.password": None}, "it is encrypted and ssl.keyStore.password is empty"),
    ({"ssl.clientAuth": "sometimes"}, "ssl.clientAuth must be none, want or need"),
])
def test_bad_tls_settings_stop_the_start_with_a_clear_message(certs, tmp_path, change, expected):
    encrypted = tmp_path / "encrypted.pem"
    key = subprocess.run(["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:right",
                          "-in", str(certs["dir"] / "node-1.pem")], capture_output=True, text=True, check=True).stdout
    cert = (certs["dir"] / "node-1.pem").read_text()
    encrypted.write_text(key + cert[cert.index("-----BEGIN CERTIFICATE"):])
    cfg = tls_cfg(certs, free_port())
    if "ssl.keyStore.password" in change:
        cfg["ssl.keyStore.location"] = str(encrypted)
    cfg.update({k: v for k, v in change.items() if v is not None})
    srv = ZKServer("zkserver", tmp_path / "srv", extra_cfg=cfg)
    with pytest.raises(RuntimeError):
        srv.start(timeout=20)
    srv.stop()
    log = srv.log_path.read_text()
    assert expected in log, log[-2000:]
    # With the right password the encrypted key works.
    if change.get("ssl.keyStore.password") == "wrong":
        cfg["ssl.keyStore.password"] = "right"
        ok = ZKServer("zkserver", tmp_path / "ok", extra_cfg=cfg)
        ok.start(timeout=30)
        ok.stop()


def cert_subject(path):
    """The certificate's subject in RFC 2253/4514 form, as openssl prints it."""
    out = subprocess.run(["openssl", "x509", "-in", str(path), "-noout", "-subject", "-nameopt", "RFC2253"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return out.split("=", 1)[1] if out.startswith("subject=") else out


def test_client_certificate_is_an_x509_acl_identity(tls_zk, certs):
    """A TLS client certificate authenticates the connection as x509:<subject>; a plain session is not it."""
    subject = cert_subject(certs["dir"] / "client-cert.pem")
    zk = kazoo_tls(tls_zk.secure_port, certs)
    plain = KazooClient(hosts=tls_zk.hosts, timeout=10)
    plain.start(timeout=10)
    try:
        zk.create("/x509-owned", b"mine", acl=[make_acl("x509", subject, all=True)])
        assert zk.get("/x509-owned")[0] == b"mine"
        assert zk.get_acls("/x509-owned")[0][0].id.id == subject
        with pytest.raises(NoAuthError):
            plain.get("/x509-owned")
        # A name that is not the certificate's is not this client.
        zk.create("/x509-other", b"", acl=[make_acl("x509", "CN=someone else,O=zkctl", all=True)])
        with pytest.raises(NoAuthError):
            zk.get("/x509-other")
    finally:
        for c in (zk, plain):
            c.stop()
            c.close()


def test_x509_superuser_certificate_bypasses_acls(certs, tmp_path):
    subject = cert_subject(certs["dir"] / "client-cert.pem")
    port = free_port()
    cfg = tls_cfg(certs, port)
    cfg["X509AuthenticationProvider.superUser"] = subject
    srv = ZKServer("zkserver", tmp_path, extra_cfg=cfg)
    srv.start()
    plain = KazooClient(hosts=srv.hosts, timeout=10)
    plain.start(timeout=10)
    zk = None
    try:
        plain.add_auth("digest", "alice:secret")
        plain.create("/alice-only", b"a", acl=[make_digest_acl("alice", "secret", all=True)])
        zk = kazoo_tls(port, certs)
        assert zk.get("/alice-only")[0] == b"a"
        zk.delete("/alice-only")
    finally:
        for c in (plain, zk):
            if c is not None:
                c.stop()
                c.close()
        srv.stop()


def java_tls_cli(port, certs, *args):
    d = certs["dir"]
    cmd = ["java", "-Xmx128m",
           "-Dzookeeper.client.secure=true",
           "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
           f"-Dzookeeper.ssl.keyStore.location={d / 'client.pem'}", "-Dzookeeper.ssl.keyStore.type=PEM",
           f"-Dzookeeper.ssl.trustStore.location={d / 'ca.pem'}", "-Dzookeeper.ssl.trustStore.type=PEM",
           "-cp", JAVA_CLASSPATH, ZKCLI_MAIN, "-server", f"127.0.0.1:{port}", *args]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


def test_java_client_over_tls(tls_zk, certs):
    rc, out = java_tls_cli(tls_zk.secure_port, certs, "create", "/java-tls", "hello")
    assert rc == 0 and "Created /java-tls" in out, out
    rc, out = java_tls_cli(tls_zk.secure_port, certs, "get", "/java-tls")
    assert rc == 0 and "hello" in out, out


def quorum_tls_cfg(keystore, ca):
    return {
        "sslQuorum": "true",
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "ssl.quorum.keyStore.location": str(keystore),
        "ssl.quorum.keyStore.type": "PEM",
        "ssl.quorum.trustStore.location": str(ca),
        "ssl.quorum.trustStore.type": "PEM",
    }


@pytest.fixture
def tls_ensemble(certs, tmp_path):
    e = Ensemble("zkserver", tmp_path, voters=3)
    for n in e.nodes:
        n.extra_cfg.update(quorum_tls_cfg(certs["dir"] / f"node-{n.sid}.pem", certs["dir"] / "ca.pem"))
    yield e
    e.close()


def test_ensemble_with_quorum_tls_elects_and_replicates(tls_ensemble):
    e = tls_ensemble.start()
    leader = wait_for(e.stable, 60, what="a leader and two followers over TLS")
    assert leader is not None
    writer = KazooClient(hosts=e.nodes[0].hosts, timeout=10)
    writer.start(timeout=15)
    try:
        for i in range(20):
            writer.create(f"/q-tls-{i}", str(i).encode())
    finally:
        writer.stop()
        writer.close()
    for n in e.nodes[1:]:
        reader = KazooClient(hosts=n.hosts, timeout=10)
        reader.start(timeout=15)
        try:
            reader.sync("/")
            assert reader.get("/q-tls-19")[0] == b"19"
        finally:
            reader.stop()
            reader.close()


def test_member_with_a_certificate_from_another_ca_is_refused(tls_ensemble, certs):
    e = tls_ensemble
    stranger = e.node(3)
    stranger.extra_cfg.update(quorum_tls_cfg(certs["other"] / "node-3.pem", certs["other"] / "ca.pem"))
    for n in e.nodes:
        n.start()
    wait_for(lambda: e.stable([e.node(1), e.node(2)]), 60, what="servers 1 and 2 to form a quorum")
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        assert stranger.mode() not in ("leader", "follower"), "a member with an untrusted certificate joined"
        time.sleep(0.5)
    logs = e.node(1).log_text() + e.node(2).log_text()
    assert "TLS handshake failed" in logs, logs[-3000:]


@pytest.mark.parametrize("engine", ["bundled", "apache"])
def test_zkctl_up_with_tls_serves_clients_over_tls(tmp_path, engine):
    """`zkctl up --tls`: certificates made on the fly, secureClientPort and sslQuorum rendered; Apache
    ZooKeeper reads the same keys and certificates."""
    base = free_base_port(offsets=(0, 100, 200, 300, 400))   # client, quorum, election, TLS, metrics
    env = dict(os.environ, ZKCTL_HOME=str(tmp_path / "home"), ZKCTL_ZKSERVER=str(binaries.zkserver()))
    zkctl = [str(binaries.zkctl()), "--name", "sectest"]
    up = subprocess.run([str(binaries.zkctl()), "up", "--tls", "--engine", engine, "--base-port", str(base), "--name", "sectest"],
                        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180, cwd=REPO_ROOT)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        tls = tmp_path / "home" / "clusters" / "sectest" / "tls"
        cfg = (tmp_path / "home" / "clusters" / "sectest" / "nodes" / "2" / "conf" / "zoo.cfg").read_text()
        assert f"secureClientPort={base + 301}\n" in cfg and "sslQuorum=true\n" in cfg
        certs = {"dir": tls}
        zk = kazoo_tls(base + 300, certs)
        try:
            zk.create("/via-zkctl-tls", b"ok")
        finally:
            zk.stop()
            zk.close()
        other = kazoo_tls(base + 302, certs)
        try:
            other.sync("/")
            assert other.get("/via-zkctl-tls")[0] == b"ok"
        finally:
            other.stop()
            other.close()
    finally:
        subprocess.run(zkctl[:1] + ["down", "--purge"] + zkctl[1:], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=120, cwd=REPO_ROOT)
