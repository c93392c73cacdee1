"""Start, probe and stop one ZooKeeper-compatible server process for the interop tests.

Two kinds of server are supported, both configured by a standalone zoo.cfg:
  * "zkserver": this repository's Swift server, `zkserver /path/zoo.cfg`
  * "apache":   Apache ZooKeeper 3.8 from the Debian `zookeeper` package

Processes are only ever signalled through the PID of the Popen object that started them.
"""
import atexit
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "Tests" / "reliability"))
from loopback_ports import free_base, free_port, free_ports, port_free  # noqa: E402,F401 (tests import them from here)
# slf4j-simple first so the server logs (to stderr, captured into the temp dir) instead of
# silently picking the no-op binding out of the many bindings in /usr/share/java.
APACHE_CLASSPATH = "/usr/share/java/slf4j-simple.jar:/usr/share/java/*"
APACHE_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="  # user "super", password "test"


_started = set()  # servers this process started and has not stopped yet


@atexit.register
def _stop_leftovers():
    for srv in list(_started):
        srv.kill9()


def server_kind():
    kind = os.environ.get("ZK_SERVER", "zkserver")
    if kind not in ("zkserver", "apache"):
        raise RuntimeError(f"ZK_SERVER must be 'zkserver' or 'apache', not {kind!r}")
    return kind


def zkserver_binary():
    path = Path(os.environ.get("ZKSERVER_BIN", ".build/debug/zkserver"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def port_taken(port):
    return not port_free(port)


def four_letter(port, cmd, timeout=5.0):
    """Send a four-letter word on a fresh connection; return everything until the server closes."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(cmd.encode() if isinstance(cmd, str) else cmd)
        chunks = []
        while time.monotonic() < deadline:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


def is_ok(port):
    try:
        return four_letter(port, "ruok", timeout=1.0) == b"imok"
    except OSError:
        return False


class ZKServer:
    """One server process on 127.0.0.1 with its own work directory (config, data, log)."""

    def __init__(self, kind, workdir, port=None, extra_cfg=None, omit=()):
        self.kind = kind
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.extra_cfg = dict(extra_cfg or {})
        self.omit = set(omit)
        self.proc = None
        self.log_path = self.workdir / "server.log"
        self.data_dir = self.workdir / "data"
        self.datalog_dir = self.workdir / "datalog"
        self.cfg_path = self.workdir / "zoo.cfg"
        self.starts = 0

    @property
    def hosts(self):
        return f"127.0.0.1:{self.port}"

    def config(self):
        cfg = {
            "tickTime": "2000",
            "dataDir": str(self.data_dir),
            "dataLogDir": str(self.datalog_dir),
            "clientPort": str(self.port),
            "clientPortAddress": "127.0.0.1",
            "maxClientCnxns": "200",
            "minSessionTimeout": "4000",
            "maxSessionTimeout": "40000",
            "4lw.commands.whitelist": "*",
            "snapCount": "10000",
            "autopurge.snapRetainCount": "3",
            "autopurge.purgeInterval": "0",
            "DigestAuthenticationProvider.superDigest": SUPER_DIGEST,
            "extendedTypesEnabled": "true",
            # the container/TTL reaper runs every second instead of every minute
            "znode.container.checkIntervalMs": "1000",
        }
        if self.kind == "apache":
            cfg["admin.enableServer"] = "false"
        cfg.update(self.extra_cfg)
        return {k: v for k, v in cfg.items() if k not in self.omit}

    def write_config(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        self.datalog_dir.mkdir(exist_ok=True)
        self.cfg_path.write_text("".join(f"{k}={v}\n" for k, v in self.config().items()))

    def command(self):
        if self.kind == "apache":
            return ["java", "-Xmx512m", "-XX:+UseSerialGC",
                    f"-Dzookeeper.log.dir={self.workdir}",
                    # read by the container/TTL reaper as a plain JVM property, not from zoo.cfg
                    "-Dznode.container.checkIntervalMs=1000",
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                    "-cp", APACHE_CLASSPATH, APACHE_MAIN, str(self.cfg_path)]
        binary = zkserver_binary()
        if not binary.is_file():
            raise RuntimeError(
                f"zkserver binary not found at {binary}: run `swift build` first, "
                "set ZKSERVER_BIN, or run with ZK_SERVER=apache")
        return [str(binary), str(self.cfg_path)]

    def start(self, timeout=60.0, wait=True):
        """Start the server and (by default) wait until it serves. On a first start, a port
        taken by someone else between choosing and binding it is replaced (twice at most)."""
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        first = self.starts == 0
        for _ in range(3):
            self._spawn()
            if not wait:
                return self
            try:
                self.wait_ready(timeout)
                return self
            except RuntimeError:
                if not (first and self.proc.poll() is not None and port_taken(self.port)):
                    raise
                self.port = free_port()
        raise RuntimeError(f"{self.kind} could not bind a free port")

    def _spawn(self):
        self.write_config()
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n".encode())
        log.flush()
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.command(), cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        _started.add(self)

    def wait_ready(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode} before "
                                   f"answering ruok; log tail:\n{self.log_tail()}")
            if is_ok(self.port) and self.serving():
                return time.monotonic() - self.started_at
            time.sleep(0.02)
        raise RuntimeError(f"{self.kind} did not answer ruok within {timeout}s; "
                           f"log tail:\n{self.log_tail()}")

    def serving(self):
        """ruok only proves the listener is up (Apache answers it while still loading its
        database), so also require that a session handshake succeeds."""
        import jute
        try:
            with jute.Conn(self.port, timeout=2.0) as c:
                c.connect(timeout_ms=4000)
                c.close_session()
            return True
        except (OSError, jute.Closed, ValueError):
            return False

    def log_tail(self, n=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        _started.discard(self)

    def stop(self, timeout=15.0):
        if not self.running():
            _started.discard(self)
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
        _started.discard(self)


class DropProxy:
    """A loopback TCP proxy in front of a server; `drop_all()` cuts every proxied connection so
    a client has to reconnect (and resume its session) through the proxy again."""

    def __init__(self, target_port):
        import threading
        self.target_port = target_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.socks = []
        self.accepted = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    @property
    def hosts(self):
        return f"127.0.0.1:{self.port}"

    def _accept_loop(self):
        import threading
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.socks += [client, upstream]
                self.accepted += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        src.settimeout(120)  # the tests using the proxy are far shorter
        try:
            for _ in range(1_000_000):
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drop_all(self):
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.stopping = True
        self.drop_all()
        self.listener.close()
        self.thread.join(timeout=2)
