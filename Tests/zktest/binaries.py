"""The programs under test: where the zkserver and zkctl binaries are, which server the interop suite runs,
and the command line that starts a server of each kind on a zoo.cfg.

  * ZKSERVER_BIN: the zkserver binary (relative to the repository root if not absolute), default
    .build/debug/zkserver;
  * ZKCTL_BIN: the zkctl binary, default the zkctl next to that zkserver when there is one, else
    .build/debug/zkctl;
  * ZK_SERVER: the server the interop suite runs, "zkserver" (default) or "apache" (Apache ZooKeeper 3.8
    from the Debian `zookeeper` package).
"""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# slf4j-simple first so the server logs (to stderr, captured into its log file) instead of silently
# picking the no-op binding out of the many bindings in /usr/share/java.
APACHE_CLASSPATH = "/usr/share/java/slf4j-simple.jar:/usr/share/java/*"
APACHE_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"


def _from_env(var):
    value = os.environ.get(var)
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else REPO_ROOT / path


def zkserver():
    """The zkserver binary (a Path; it may not exist)."""
    return _from_env("ZKSERVER_BIN") or REPO_ROOT / ".build" / "debug" / "zkserver"


def zkctl():
    """The zkctl binary (a Path; it may not exist)."""
    path = _from_env("ZKCTL_BIN")
    if path:
        return path
    beside = zkserver().parent / "zkctl"
    return beside if beside.is_file() else REPO_ROOT / ".build" / "debug" / "zkctl"


def newest(name):
    """$<NAME>_BIN, else the newer of .build/release/<name> and .build/debug/<name> (what Tests/deploy runs)."""
    path = _from_env(f"{name.upper()}_BIN")
    if path:
        return path
    found = [p for p in (REPO_ROOT / ".build" / "release" / name, REPO_ROOT / ".build" / "debug" / name) if p.exists()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else REPO_ROOT / ".build" / "debug" / name


def server_kind():
    """The server the interop suite runs: ZK_SERVER, "zkserver" (default) or "apache"."""
    kind = os.environ.get("ZK_SERVER", "zkserver")
    if kind not in ("zkserver", "apache"):
        raise RuntimeError(f"ZK_SERVER must be 'zkserver' or 'apache', not {kind!r}")
    return kind


def server_command(kind, cfg_path, log_dir, heap="512m", properties=()):
    """argv that runs a server of `kind` ("zkserver" or "apache") on `cfg_path`. For Apache, `log_dir` is
    zookeeper.log.dir and `properties` are extra JVM -D settings ("name=value")."""
    if kind == "apache":
        return ["java", f"-Xmx{heap}", "-XX:+UseSerialGC", f"-Dzookeeper.log.dir={log_dir}",
                *(f"-D{p}" for p in properties), "-cp", APACHE_CLASSPATH, APACHE_MAIN, str(cfg_path)]
    if kind != "zkserver":
        raise ValueError(f"unknown server kind {kind!r}")
    binary = zkserver()
    if not binary.is_file():
        raise RuntimeError(f"zkserver binary not found at {binary}: run `swift build --product zkserver` "
                           "first, set ZKSERVER_BIN, or (interop suite) run with ZK_SERVER=apache")
    return [str(binary), str(cfg_path)]
