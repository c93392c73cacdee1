"""Server processes for the tests: `ServerProcess` (one process this package started, whatever it runs) and
`ZKServer`, one standalone ZooKeeper-compatible server configured by its own zoo.cfg:
  * "zkserver": this repository's Swift server, `zkserver /path/zoo.cfg`
  * "apache":   Apache ZooKeeper 3.8 from the Debian `zookeeper` package

Processes are only ever signalled through the PID of the Popen object that started them. A test process
that is root starts them unprivileged (runas); every process still running when the test process exits
is killed.
"""
import atexit
import os
import signal
import subprocess
import time
from pathlib import Path

from . import jute, runas
from .binaries import server_command
from .ports import free_port, port_free
from .words import is_ok

SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="  # user "super", password "test"
SUPER_AUTH = "super:test"

_started = set()  # processes started here and not stopped yet


@atexit.register
def _stop_leftovers():
    for p in list(_started):
        p.kill9()


class ServerProcess:
    """A server process with its own work directory and log (stdout and stderr of every start, appended).
    Subclasses say what to write before a start (`write_files`) and what to run (`command`)."""

    log_name = "server.log"

    def __init__(self, kind, workdir, env=None):
        self.kind = kind
        self.workdir = Path(workdir)
        self.log_path = self.workdir / self.log_name
        self.env = dict(env or {})
        self.proc = None
        self.starts = 0
        self.paused = False
        self.started_at = None
        self._checked_pid = None

    def write_files(self):
        raise NotImplementedError

    def command(self):
        raise NotImplementedError

    def wrap(self, argv):
        """argv as it is started (a subclass may run it somewhere else, e.g. in a network namespace)."""
        return argv

    def spawn(self):
        """Writes the files and starts the process (without waiting for it to serve)."""
        assert not self.running(), f"{self.kind} in {self.workdir} already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.write_files()
        runas.give(self.workdir)
        command = self.command()
        argv = self.wrap(runas.command(command))
        self.starts += 1
        env = dict(os.environ, **self.env) if self.env else None
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts} at {time.strftime('%H:%M:%S')}: {' '.join(command)}\n".encode())
            log.flush()
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True, env=env)
        self.paused = False
        _started.add(self)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def pause(self):
        """SIGSTOP."""
        assert self.running()
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        """SIGCONT, if paused."""
        if self.running() and self.paused:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def kill9(self):
        if self.running():
            self.resume()
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        _started.discard(self)

    def terminate(self):
        """Sends SIGTERM (after SIGCONT if paused), without waiting."""
        if self.running():
            self.resume()
            os.kill(self.proc.pid, signal.SIGTERM)

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after `timeout`. Returns the exit status of a process that was running
        (None if it was not), negative for a signal."""
        if not self.running():
            _started.discard(self)
            return None
        self.terminate()
        return self.wait_stopped(timeout)

    def wait_stopped(self, timeout=10.0):
        """Waits for a process sent SIGTERM; SIGKILL after `timeout`. Returns its exit status."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return "killed after SIGTERM timeout"
        finally:
            _started.discard(self)

    def leave_running(self):
        """Lets the process outlive the test process (it is not killed at exit)."""
        _started.discard(self)

    def assert_unprivileged(self):
        """The running process is not root and holds no capability (checked once per process)."""
        if self.running() and self._checked_pid != self.proc.pid:
            runas.assert_unprivileged(self.proc.pid)
            self._checked_pid = self.proc.pid

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:]) or "(no log)"


class ZKServer(ServerProcess):
    """One standalone server on 127.0.0.1 with its own work directory (config, data, log). With
    defaults=False its zoo.cfg holds only dataDir, clientPort, clientPortAddress and `extra_cfg`."""

    def __init__(self, kind, workdir, port=None, extra_cfg=None, omit=(), defaults=True):
        super().__init__(kind, workdir)
        self.port = port or free_port()
        self.extra_cfg = dict(extra_cfg or {})
        self.omit = set(omit)
        self.defaults = defaults
        self.data_dir = self.workdir / "data"
        self.datalog_dir = self.workdir / "datalog"
        self.cfg_path = self.workdir / "zoo.cfg"

    @property
    def hosts(self):
        return f"127.0.0.1:{self.port}"

    def config(self):
        cfg = {"dataDir": str(self.data_dir), "clientPort": str(self.port), "clientPortAddress": "127.0.0.1"}
        if self.defaults:
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

    write_files = write_config

    def command(self):
        # znode.container.checkIntervalMs: Apache reads it as a plain JVM property, not from zoo.cfg
        return server_command(self.kind, self.cfg_path, self.workdir, heap="512m",
                              properties=("znode.container.checkIntervalMs=1000",
                                          "org.slf4j.simpleLogger.defaultLogLevel=info"))

    def start(self, timeout=60.0, wait=True):
        """Starts the server and (by default) waits until it serves. On a first start, a port taken by
        someone else between choosing and binding it is replaced (twice at most)."""
        first = self.starts == 0
        for _ in range(3):
            self.spawn()
            if not wait:
                return self
            try:
                self.wait_ready(timeout)
                return self
            except RuntimeError:
                if not (first and self.proc.poll() is not None and not port_free(self.port)):
                    raise
                self.port = free_port()
        raise RuntimeError(f"{self.kind} could not bind a free port")

    def wait_ready(self, timeout=60.0):
        """Waits until the server serves (then checks that it runs unprivileged); returns the seconds
        since its start."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode} before "
                                   f"answering ruok; log tail:\n{self.log_tail()}")
            if is_ok(self.port) and self.serving():
                took = time.monotonic() - self.started_at
                self.assert_unprivileged()
                return took
            time.sleep(0.02)
        raise RuntimeError(f"{self.kind} did not answer ruok within {timeout}s; "
                           f"log tail:\n{self.log_tail()}")

    def stop(self, timeout=15.0):
        return super().stop(timeout)

    def serving(self):
        """ruok only proves the listener is up (Apache answers it while still loading its
        database), so also require that a session handshake succeeds."""
        try:
            with jute.Conn(self.port, timeout=2.0) as c:
                c.connect(timeout_ms=4000)
                c.close_session()
            return True
        except (OSError, jute.Closed, ValueError):
            return False
