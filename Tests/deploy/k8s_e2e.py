#!/usr/bin/env python3
"""`zkctl k8s` end to end against the process-backed Kubernetes stand-in (deploy.kube_standin).

The manifests come from `zkctl generate kubernetes` (production-3, bundled engine, namespace zk). The
stand-in applies them and runs their pods as pod_check does; zkctl runs as the unprivileged account
(ZK_RUN_AS, default nobody) with the stand-in's kubectl first in PATH. Under a writer that creates a znode
every 20 ms through pods 0-2 (what the client Service would reach), in order:
  1. `zkctl k8s restart`: every pod replaced once, the leader last;
  2. `zkctl k8s upgrade --image zkctl/zkserver:0.1.1`: every pod runs the new image's binary;
  3. `zkctl k8s scale` to a 5-server inventory: 5 pods Ready, 5 voters in /zookeeper/config, and the new pods
     run the upgraded image (the StatefulSet's template was not reverted);
  4. `zkctl k8s scale` back to production-3: 3 pods, 3 voters, the removed pods' claims deleted;
  5. the calls that must fail: another namespace, another context, kubectl not reaching a cluster, kubectl
     missing: each exits 1 and names what it looked for.
Then every acknowledged write must be readable. Prints ok:/FAIL: lines, the writer's figures (acked, lost,
longest gap between two acknowledged writes) and `N passed, M failed`.

Needs root (network namespaces, mounts): exits 77 (skip) otherwise. Run from Tests/: `python3 -m deploy.k8s_e2e`.
"""
import argparse
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from zktest import binaries, runas, words

REPO = str(binaries.REPO_ROOT)
NEW_IMAGE = "zkctl/zkserver:0.1.1"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class PacedWriter(threading.Thread):
    """Creates /k8s-e2e/w-<seq> every `pace` s; a create whose outcome is unknown is retried. Records every
    acknowledged path and the longest time between two acknowledgements. Bounded in count and time."""

    def __init__(self, hosts, pace=0.02, max_ops=40000, max_seconds=900):
        super().__init__(daemon=True)
        from kazoo.client import KazooClient
        self.zk = KazooClient(hosts=hosts, timeout=10)
        self.pace, self.max_ops, self.max_seconds = pace, max_ops, max_seconds
        self.acked, self.unknown, self.errors = {}, 0, []
        self.longest, self.longest_at, self.last = 0.0, None, None
        self.stop_event = threading.Event()

    def run(self):
        from kazoo.exceptions import ConnectionLoss, OperationTimeoutError, SessionExpiredError
        from kazoo.handlers.threading import KazooTimeoutError
        try:
            self.zk.start(timeout=30)
            self.zk.ensure_path("/k8s-e2e")
            started, n = time.monotonic(), 0
            self.last = time.monotonic()
            while not self.stop_event.is_set() and n < self.max_ops and time.monotonic() - started < self.max_seconds:
                n += 1
                data = f"w{n}".encode()
                while not self.stop_event.is_set():
                    try:
                        path = self.zk.create_async("/k8s-e2e/w-", data, sequence=True).get(timeout=5)
                        break
                    except (ConnectionLoss, OperationTimeoutError, KazooTimeoutError, SessionExpiredError):
                        self.unknown += 1
                        time.sleep(0.05)
                else:
                    break
                now = time.monotonic()
                if now - self.last > self.longest:
                    self.longest, self.longest_at = now - self.last, time.strftime("%H:%M:%S")
                self.last = now
                self.acked[path] = data
                time.sleep(self.pace)
        except Exception as e:
            self.errors.append(repr(e))

    def progress(self, more, timeout):
        target, deadline = len(self.acked) + more, time.monotonic() + timeout
        while time.monotonic() < deadline and self.is_alive():
            if len(self.acked) >= target:
                return True
            time.sleep(0.05)
        return False

    def finish(self):
        self.stop_event.set()
        self.join(30)

    def lost(self):
        """Acknowledged writes that are not there (read back through a fresh session after a sync)."""
        self.zk.sync("/k8s-e2e")
        present = set(self.zk.get_children("/k8s-e2e"))
        missing = [p for p in self.acked if p.rsplit("/", 1)[1] not in present]
        wrong = [p for p in self.acked if p.rsplit("/", 1)[1] in present and self.zk.get(p)[0] != self.acked[p]]
        return missing + wrong


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zkctl", default=str(binaries.zkctl()))
    ap.add_argument("--zkserver", default=str(binaries.zkserver()))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: k8s_e2e.py needs root (network namespaces, mounts); run it as root")
        return 77
    from deploy.kube_standin import StandIn
    from deploy.pod_check import Checks, conclude

    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a timeout's SIGTERM: fail and clean up, as Ctrl-C
    work = tempfile.mkdtemp(prefix="zk-k8s-e2e.")
    os.chmod(work, 0o755)
    checks, standin, writer = Checks(), None, None
    log_path = os.path.join(work, "standin.log")
    log_lock = threading.Lock()

    def log(text):
        with log_lock, open(log_path, "a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} {text}\n")

    try:
        # What the account may read and write: the inventories, its home, the manifests it writes.
        user = os.path.join(work, "user")
        home, inv_dir, bin_dir = (os.path.join(user, d) for d in ("home", "inventory", "bin"))
        for d in (home, inv_dir, bin_dir):
            os.makedirs(d)
        inv3 = os.path.join(inv_dir, "production-3.yaml")
        shutil.copy(os.path.join(REPO, "inventory/production-3.yaml"), inv3)
        inv5 = os.path.join(inv_dir, "production-5.yaml")
        with open(inv5, "w") as f:
            f.write(open(inv3).read() + "".join(f"        zk-{c}:\n          zk_id: {i}\n          ansible_host: 192.0.2.{10 + i}\n"
                                                for c, i in (("d", 4), ("e", 5))))
        shutil.copy(os.path.join(REPO, "Tests/deploy/standin-kubectl"), os.path.join(bin_dir, "kubectl"))
        runas.give(user)
        sock = os.path.join(work, "api.sock")

        def zkctl(*argv, path=None, socket_path=sock, timeout=900):
            env = {"PATH": path or f"{bin_dir}:{BASE_PATH}", "HOME": home, "LANG": "C.UTF-8"}
            if socket_path:
                env["KUBE_STANDIN_SOCKET"] = socket_path
            t0 = time.monotonic()
            cmd = runas.command([args.zkctl, *argv])
            cmd[0] = shutil.which(cmd[0]) or cmd[0]  # found in this process's PATH: the account's may be empty
            r = subprocess.run(cmd, env=env, cwd=user, capture_output=True, text=True,
                               timeout=timeout)
            return r.returncode, r.stdout + r.stderr, time.monotonic() - t0

        manifests = os.path.join(user, "k8s")
        rc, out, _ = zkctl("generate", "kubernetes", "-i", inv3, "--engine", "bundled", "--namespace", "zk", "-o", manifests)
        secret = os.path.join(manifests, "superuser-secret.yaml")
        if not checks.check(rc == 0 and os.path.exists(secret) and os.stat(secret).st_mode & 0o077 == 0,
                            "zkctl generate kubernetes -i production-3.yaml --engine bundled -n zk: the manifests and "
                            "superuser-secret.yaml (mode 0600)", out):
            return 1
        standin = StandIn(os.path.join(work, "standin"), manifests,
                          {"zkctl/zkserver:0.1.0": args.zkserver, NEW_IMAGE: args.zkserver}, slots=5, log=log)
        standin.start()
        standin.serve(sock)
        pods = standin.cl.pods
        print(f"== stand-in: StatefulSet {standin.sts_name} in namespace {standin.namespace}, pods at "
              f"{', '.join(p.address for p in pods)}; log {log_path}", flush=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not all(standin.ready[i] for i in range(3)):
            time.sleep(0.2)
        if not checks.check(all(standin.ready[i] for i in range(3)), "the 3 pods of the manifests are Ready",
                            open(log_path).read()[-3000:]):
            return 1

        def srvr(pod):
            try:
                text = words.four_letter(2181, "srvr", host=pod.address, timeout=3).decode()
                return re.search(r"Mode: (\w+)", text).group(1)
            except (OSError, AttributeError):
                return "down"

        def config():
            from kazoo.client import KazooClient
            zk = KazooClient(hosts=f"{pods[0].address}:2181", timeout=10)
            zk.start(timeout=20)
            try:
                zk.sync("/zookeeper/config")
                text = zk.get("/zookeeper/config")[0].decode()
            finally:
                zk.stop()
                zk.close()
            return sorted(re.findall(r"^server\.(\d+)=\S+:(participant|observer)", text, re.M))

        writer = PacedWriter(",".join(f"{p.address}:2181" for p in pods[:3]))
        writer.start()
        if not checks.check(writer.progress(50, 60), "the writer through pods 0-2 makes progress", repr(writer.errors)):
            return 1
        figures = []

        def operation(label, *argv):
            acked, longest_before = len(writer.acked), writer.longest
            rc, out, took = zkctl(*argv)
            progressed = writer.progress(25, 60)
            figures.append(f"{label}: {took:.1f}s, writes acknowledged meanwhile {len(writer.acked) - acked}")
            checks.check(rc == 0 and progressed, f"zkctl {' '.join(argv[:2])} ({label}) exits 0 in {took:.1f}s; "
                                                 f"the writer goes on", out + f"\nwriter errors: {writer.errors}")
            return out

        # 1. restart
        modes = {p.name: srvr(p) for p in pods[:3]}
        starts = {p.name: p.starts for p in pods[:3]}
        leader = next((n for n, m in modes.items() if m == "leader"), None)
        operation("restart", "k8s", "restart", "-i", inv3, "--engine", "bundled", "-n", "zk")
        deleted = re.findall(r"api: delete pod (\S+)", open(log_path).read())
        checks.check(all(p.starts == starts[p.name] + 1 for p in pods[:3]) and deleted[-3:][-1:] == [leader],
                     f"restart replaced every pod once, the leader ({leader}) last: {', '.join(deleted[-3:])}")

        # 2. upgrade
        operation("upgrade", "k8s", "upgrade", "-i", inv3, "--engine", "bundled", "-n", "zk", "--image", NEW_IMAGE)
        images = {p.name: standin.pod_image.get(p.ordinal) for p in pods[:3]}
        new_bin = os.stat(os.path.join(standin.images[NEW_IMAGE], "zkserver")).st_ino
        exes = {p.name: os.stat(f"/proc/{p.proc.pid}/exe").st_ino == new_bin for p in pods[:3] if p.proc}
        checks.check(set(images.values()) == {NEW_IMAGE} and all(exes.values()) and len(exes) == 3,
                     f"upgrade: every pod runs {NEW_IMAGE}'s binary ({images})")

        # 3. scale 3 -> 5
        operation("scale 3->5", "k8s", "scale", "-i", inv5, "--engine", "bundled", "-n", "zk")
        members = config()
        checks.check(standin.replicas == 5 and all(standin.ready[i] for i in range(5))
                     and members == [(str(i), "participant") for i in range(1, 6)]
                     and {standin.pod_image.get(i) for i in range(5)} == {NEW_IMAGE}
                     and standin.template_images()["zookeeper"] == NEW_IMAGE,
                     f"scale to 5: replicas {standin.replicas}, Ready {sum(standin.ready[i] for i in range(5))}, "
                     f"/zookeeper/config {members}, images {[standin.pod_image.get(i) for i in range(5)]}")

        # 4. scale 5 -> 3
        operation("scale 5->3", "k8s", "scale", "-i", inv3, "--engine", "bundled", "-n", "zk")
        members = config()
        claims = standin.claims()
        checks.check(standin.replicas == 3 and all(standin.state[i] == "absent" for i in (3, 4))
                     and members == [(str(i), "participant") for i in range(1, 4)]
                     and not any(c.endswith(("-3", "-4")) for c in claims),
                     f"scale to 3: replicas {standin.replicas}, /zookeeper/config {members}, claims {claims}")

        # 5. what must fail, and say where it looked
        for label, argv, kw, expect in [
            ("another namespace", ["-n", "nope"], {}, "lacks pods prod-zk-0, prod-zk-1, prod-zk-2 (it has no pods)"),
            ("another context", ["-n", "zk", "--context", "nope"], {}, 'context "nope" does not exist'),
            ("no cluster", ["-n", "zk"], {"socket_path": None}, "connection to the server"),
            ("no kubectl", ["-n", "zk"], {"path": os.path.join(user, "empty")}, "kubectl is not installed (not found in PATH)"),
        ] + ([("a real kubectl, no cluster", ["-n", "zk"], {"path": BASE_PATH}, "connection to the server")]
             if shutil.which("kubectl", path=BASE_PATH) else []):
            rc, out, _ = zkctl("k8s", "restart", "-i", inv3, "--engine", "bundled", *argv, **kw)
            checks.check(rc == 1 and expect in out, f"zkctl k8s restart, {label}: exit {rc}, says: {out.strip()[-220:]}")
        rc, out, _ = zkctl("k8s", "scale", "-i", inv5, "--engine", "bundled", "-n", "nope")
        checks.check(rc == 1 and "namespace nope) does not exist" in out, f"zkctl k8s scale, another namespace: exit {rc}, says: {out.strip()[-200:]}")

        writer.finish()
        lost = writer.lost()
        figures.append(f"writer: {len(writer.acked)} acknowledged, {len(lost)} lost, longest gap {writer.longest:.3f}s "
                       f"(at {writer.longest_at}), {writer.unknown} retried after an unknown outcome")
        checks.check(not lost and not writer.errors, f"every acknowledged write is there ({len(writer.acked)})",
                     f"lost: {lost[:10]}\nerrors: {writer.errors}")
        checks.check(standin.checks.failed == 0, f"the stand-in ran every pod start and deletion as the manifests say "
                                                 f"({standin.checks.passed} kubelet checks)",
                     "\n".join(standin.checks.failures))
        for f in figures:
            print(f"   {f}")
    except KeyboardInterrupt:
        checks.check(False, "interrupted (SIGTERM or Ctrl-C)")
    except Exception as e:
        checks.check(False, f"{type(e).__name__}: {e}", traceback.format_exc())
    finally:
        if writer is not None:
            writer.finish()
            try:
                writer.zk.stop()
                writer.zk.close()
            except Exception:
                pass
        if standin is not None:
            standin.stop()
        if checks.failed and os.path.exists(log_path):
            print("   stand-in log (last lines):\n" + "".join("   " + l for l in open(log_path).readlines()[-60:]))
        conclude(checks, work, args.keep)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
