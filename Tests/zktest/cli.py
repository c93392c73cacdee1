"""Drive an interactive command-line client (cli_mt, zkCli.sh) through its stdin."""
import re
import subprocess
import threading
import time

CLI_MT = "/usr/lib/zookeeper/bin/cli_mt"
JAVA_CLASSPATH = "/usr/share/java/slf4j-nop.jar:/usr/share/java/*"
ZKCLI_MAIN = "org.apache.zookeeper.ZooKeeperMain"
ZKCLI_SH = "/usr/share/zookeeper/bin/zkCli.sh"


class Interactive:
    """A child process whose merged stdout/stderr is collected by a reader thread."""

    def __init__(self, argv, timeout=20.0):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.timeout = timeout
        self.lock = threading.Lock()
        self.buf = ""
        self.mark = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in iter(self.proc.stdout.readline, b""):
            with self.lock:
                self.buf += line.decode(errors="replace")

    def expect(self, pattern, timeout=None):
        """Wait until `pattern` matches output produced since the last send; return the match."""
        deadline = time.monotonic() + (timeout or self.timeout)
        rx = re.compile(pattern, re.M)
        while time.monotonic() < deadline:
            with self.lock:
                m = rx.search(self.buf, self.mark)
            if m:
                return m
            if self.proc.poll() is not None:
                time.sleep(0.1)
                with self.lock:
                    m = rx.search(self.buf, self.mark)
                if m:
                    return m
                break
            time.sleep(0.02)
        raise AssertionError(f"no match for {pattern!r}; output since last command:\n"
                             f"{self.buf[self.mark:]}")

    def send(self, line, expect=None, timeout=None):
        with self.lock:
            self.mark = len(self.buf)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        if expect is not None:
            return self.expect(expect, timeout)
        return None

    def since_mark(self):
        with self.lock:
            return self.buf[self.mark:]

    def close(self, quit_cmd="quit"):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(quit_cmd.encode() + b"\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.reader.join(timeout=2)
        return self.buf


def cli_mt(hosts):
    return Interactive([CLI_MT, "-h", hosts])


def zkcli(hosts):
    return Interactive(["java", "-Xmx128m", "-cp", JAVA_CLASSPATH, ZKCLI_MAIN, "-server", hosts])


def zkcli_once(hosts, *args, timeout=30):
    """zkCli in one-command mode: runs `args` and exits. Returns (exit code, output)."""
    p = subprocess.run(["java", "-Xmx128m", "-cp", JAVA_CLASSPATH, ZKCLI_MAIN, "-server", hosts,
                        *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")


def zkcli_sh_once(hosts, *args, timeout=60):
    """The Debian zkCli.sh wrapper script in one-command mode. Returns (exit code, output)."""
    p = subprocess.run([ZKCLI_SH, "-server", hosts, *args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace")
