"""Who the product runs as in the tests: never root.

A test process that is not root starts servers as itself, which is already how users run them. A test
process that is root (it needed root for its own setup: network namespaces, a tmpfs) starts every server
through `setpriv` as the account named by ZK_RUN_AS (default `nobody`), with no capabilities, an empty
bounding set and no_new_privs, and hands that account the directories the server writes to. A test that
only passes as root proves nothing."""
import os
import pwd
import tempfile


def account():
    """The passwd entry to run the product as, or None when this process is not root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("ZK_RUN_AS", "nobody")
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        raise RuntimeError(f"ZK_RUN_AS={name}: no such account; create it (useradd {name}) or name another") from None
    if pw.pw_uid == 0:
        raise RuntimeError(f"ZK_RUN_AS={name} is root; name an unprivileged account")
    return pw


def command(argv):
    """argv as it must be started: unchanged when not root, under setpriv as the account when root.
    setpriv execs the program, so the PID of the started process is the server's."""
    pw = account()
    if pw is None:
        return list(argv)
    return ["setpriv", f"--reuid={pw.pw_name}", f"--regid={pw.pw_gid}", "--init-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", *argv]


def give(*paths):
    """Makes each path (recursively) the account's own, and the directories above it that this test run
    made under the temp directory traversable by it, so that the server can write there. No-op when not
    root. A directory above it elsewhere that the account cannot pass is an error, not changed."""
    pw = account()
    if pw is None:
        return
    tmp = os.path.realpath(tempfile.gettempdir())
    for path in paths:
        path = os.path.realpath(path)
        for dirpath, dirnames, filenames in os.walk(path):
            os.chown(dirpath, pw.pw_uid, pw.pw_gid)
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), pw.pw_uid, pw.pw_gid, follow_symlinks=False)
        parent = os.path.dirname(path)
        while parent != os.path.dirname(parent):
            st = os.stat(parent)
            if not st.st_mode & 0o001:
                if parent.startswith(tmp + os.sep) and st.st_uid == os.geteuid():
                    os.chmod(parent, st.st_mode | 0o001)
                else:
                    raise RuntimeError(f"{pw.pw_name} cannot pass {parent} (mode {st.st_mode & 0o777:o}) to reach "
                                       f"{path}; run the tests from a directory other accounts can read")
            parent = os.path.dirname(parent)


def assert_unprivileged(pid):
    """The running process `pid` is not root and holds no capability (checked once it serves, after
    setpriv has exec'd it)."""
    uid, cap_eff = None, None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                uid = [int(x) for x in line.split()[1:]]
            elif line.startswith("CapEff:"):
                cap_eff = int(line.split()[1], 16)
    assert uid is not None and 0 not in uid, f"process {pid} runs with uid {uid}: the product must not run as root"
    assert cap_eff == 0, f"process {pid} holds capabilities {cap_eff:#x}: the product must run without any"
