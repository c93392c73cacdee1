#!/usr/bin/env python3
"""Runs the generated Kubernetes pods (production-3, bundled engine) on this machine as a cluster would.

There is no Kubernetes cluster here, so this script reads the StatefulSet that `zkctl generate kubernetes`
writes and executes exactly what it tells a cluster to execute: the init container, the server container,
its startup/readiness/liveness probes and its preStop hook, each with the pod's uid/gid and fsGroup, no
capabilities, and the ConfigMaps/Secrets as read-only files at their mount paths. Then it checks the pods
as a cluster operator would: identities, read-only root, readiness, a client, a pod deletion and restart.

Emulated:
  - the pod network: a network namespace per pod on a bridge this script creates (169.254.78.0/24); the
    cluster DNS as /etc/hosts entries for every name of every pod under the headless Service;
  - the image (Dockerfile): the host's /usr read-only with the bin/lib/sbin symlinks, an /etc of its own
    with the image's account, the image's directories, zkserver alone in /usr/local/bin, all on a tmpfs
    root that is remounted read-only for readOnlyRootFilesystem;
  - volumes: configMap and secret (files with defaultMode, root:fsGroup), emptyDir (fresh on every pod
    start), volumeClaimTemplates (a directory root:fsGroup 2770 that outlives the pod);
  - securityContext: runAsUser/runAsGroup/fsGroup/runAsNonRoot, capabilities.drop ALL (empty bounding
    set), allowPrivilegeEscalation false (no_new_privs), readOnlyRootFilesystem;
  - exec probes at their period, timeout and failure threshold; a pod deletion as the kubelet does it:
    preStop, SIGTERM, SIGKILL when terminationGracePeriodSeconds is over.
Not emulated: the image pull (the host's /usr stands in for Ubuntu's), a pid namespace (/proc and /dev are
the host's), cgroups and resource limits, seccomp, Service cluster IPs and service env vars, NetworkPolicy,
scheduling (affinity, spread), the API server (automountServiceAccountToken must be false). Each probe and
hook runs in a fresh mount namespace built like the container's, not inside the container's own.
A field or volume type this script does not know how to emulate fails the run loudly.

Needs root (namespaces, mounts): exits 77 (skip) otherwise. Prints `ok:`/`FAIL:` lines, then
`N passed, M failed`; exit status 1 when a check failed. A module of Tests/ (it uses the zktest package):
run it from there, `cd Tests && python3 -m deploy.pod_check`.
"""
import argparse, base64, glob, logging, os, re, shlex, shutil, signal, subprocess, sys, tempfile, time, traceback

from zktest import binaries, netns

REPO = str(binaries.REPO_ROOT)
SUBNET = "169.254.78"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # the Ubuntu image's PATH
CLUSTER_DOMAIN = "cluster.local"
# The fields this script emulates, or that only matter to the scheduler and controllers, not to what runs.
KNOWN = {
    "StatefulSet.spec": {"serviceName", "replicas", "podManagementPolicy", "template", "volumeClaimTemplates",
                         "selector", "updateStrategy", "minReadySeconds", "revisionHistoryLimit",
                         "persistentVolumeClaimRetentionPolicy"},
    "pod spec": {"initContainers", "containers", "volumes", "securityContext", "terminationGracePeriodSeconds",
                 "automountServiceAccountToken", "serviceAccountName", "affinity", "topologySpreadConstraints"},
    "pod securityContext": {"runAsUser", "runAsGroup", "fsGroup", "runAsNonRoot", "fsGroupChangePolicy",
                            "seccompProfile"},
    "container": {"name", "image", "imagePullPolicy", "command", "args", "env", "ports", "resources",
                  "volumeMounts", "securityContext", "startupProbe", "readinessProbe", "livenessProbe", "lifecycle"},
    "container securityContext": {"allowPrivilegeEscalation", "readOnlyRootFilesystem", "capabilities",
                                  "runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile"},
    "capabilities": {"drop"}, "lifecycle": {"preStop"}, "preStop": {"exec"}, "env": {"name", "value"},
    "volumeMount": {"name", "mountPath", "readOnly"},
    "probe": {"exec", "periodSeconds", "timeoutSeconds", "failureThreshold", "initialDelaySeconds"},
    "configMap": {"name", "defaultMode"}, "secret": {"secretName", "defaultMode", "optional"}, "emptyDir": {"sizeLimit"},
    "volumeClaimTemplate": {"accessModes", "resources", "storageClassName"},
}


class Unsupported(Exception):
    """The manifests say something this script cannot emulate: fail instead of pretending."""


def allow(obj, what, where=""):
    extra = sorted(set(obj or {}) - KNOWN[what])
    if extra:
        raise Unsupported(f"{what}{' ' + where if where else ''}: {', '.join(extra)} not emulated by pod_check.py")


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, good, text, detail=""):
        if good:
            self.passed += 1
            print(f"ok: {text}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL: {text}" + "".join(f"\n    {l}" for l in detail.strip().splitlines()[-15:]), flush=True)
        return good


def image_from_dockerfile():
    """The image's account and directories, read from the Dockerfile this script stands in for."""
    text = open(os.path.join(REPO, "Dockerfile")).read()
    user = re.search(r"useradd .*--uid (\d+) --gid (\d+) --home-dir (\S+) .*?(\w+)[ \\]*$", text, re.M)
    dirs = re.search(r"install -d -o (\d+) -g (\d+) -m (\d+) ((?:/\w+ ?)+)$", text, re.M)
    if not user or not dirs or "/usr/local/bin/zkserver" not in text:
        raise Unsupported("Dockerfile: account, directories or /usr/local/bin/zkserver not found")
    uid, gid, home, name = user.groups()
    return {"passwd": f"root:x:0:0:root:/root:/bin/bash\n{name}:x:{uid}:{gid}::{home}:/usr/sbin/nologin\n",
            "group": f"root:x:0:\n{name}:x:{gid}:\n", "dirs": dirs.group(4).split(),
            "install": f"install -d -o {dirs.group(1)} -g {dirs.group(2)} -m {dirs.group(3)}"}


class Pod:
    def __init__(self, name, ordinal, address):
        self.name, self.ordinal, self.address = name, ordinal, address
        self.proc, self.volumes, self.starts, self.dir = None, {}, 0, None
        self.image_bin = None  # the image's /usr/local/bin when it is not the cluster's (deploy.kube_standin)


class Cluster:
    def __init__(self, work, manifests, zkserver, slots=None):
        """`slots`: how many pods the network and the names have room for (default: the replicas)."""
        import yaml  # here, so that a run without root skips before needing PyYAML
        self.work, self.procs = work, []
        objs = [o for f in sorted(glob.glob(os.path.join(manifests, "*.yaml"))) for o in yaml.safe_load_all(open(f)) if o]
        kinds = lambda kind: [o for o in objs if o.get("kind") == kind]
        (sts,) = kinds("StatefulSet")
        spec = sts["spec"]
        self.tpl = spec["template"]["spec"]
        self.psc = self.tpl.get("securityContext", {})
        self.init, (self.main,) = self.tpl.get("initContainers", []), self.tpl["containers"]
        self.volumes = {v["name"]: v for v in self.tpl.get("volumes", [])}
        self.claims = [c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])]
        self.validate(spec)
        self.grace = self.tpl.get("terminationGracePeriodSeconds", 30)
        self.configmaps = {o["metadata"]["name"]: {**o.get("data", {}), **{k: base64.b64decode(v) for k, v in
                           o.get("binaryData", {}).items()}} for o in kinds("ConfigMap")}
        self.secrets = {o["metadata"]["name"]: {**{k: base64.b64decode(v) for k, v in o.get("data", {}).items()},
                        **o.get("stringData", {})} for o in kinds("Secret")}
        kust = kinds("Kustomization")
        self.namespace = (kust[0].get("namespace") if kust else None) or sts["metadata"].get("namespace") or "default"
        self.service = spec["serviceName"]
        svc = [s["spec"] for s in kinds("Service") if s["metadata"]["name"] == self.service]
        if not svc or svc[0].get("clusterIP") != "None" or not svc[0].get("publishNotReadyAddresses"):
            raise Unsupported(f"serviceName {self.service}: not a headless Service that publishes not-ready pods")
        self.cfg = next(d for d in self.configmaps.values() if "zoo.cfg" in d)
        self.data_dir = re.search(r"^dataDir=(.*)$", self.cfg["zoo.cfg"], re.M).group(1)
        self.client_port = next(p["containerPort"] for p in self.main["ports"] if p["name"] == "tcp-client")
        self.image = image_from_dockerfile()
        # the pod network: pod i in namespace i + 1 of a bridge of its own, at SUBNET.(i + 1)
        slots = slots or spec["replicas"]
        self.net = netns.Network(slots, subnet=SUBNET, tag=f"zpc{os.getpid() % 100000}")
        self.pods = [Pod(f"{sts['metadata']['name']}-{i}", i, self.net.address(i + 1)) for i in range(slots)]
        self.mnt = os.path.join(work, "mnt")  # every container mounts its own tmpfs root here, in its own namespace
        self.image_bin = os.path.join(work, "image-bin")  # the image's /usr/local/bin: zkserver alone
        for d in (self.mnt, self.image_bin, os.path.join(work, "logs")):
            os.makedirs(d)
        shutil.copy(zkserver, os.path.join(self.image_bin, "zkserver"))
        os.chmod(os.path.join(self.image_bin, "zkserver"), 0o755)
        self.write_etc()

    def validate(self, spec):
        """Every field that reaches the pods must be one this script emulates."""
        allow(spec, "StatefulSet.spec")
        allow(self.tpl, "pod spec")
        allow(self.psc, "pod securityContext")
        if spec.get("podManagementPolicy") != "Parallel":
            raise Unsupported("podManagementPolicy other than Parallel (ordered pod start)")
        if self.tpl.get("automountServiceAccountToken") is not False:
            raise Unsupported("a service account token (automountServiceAccountToken is not false)")
        for c in self.init + [self.main]:
            allow(c, "container", c["name"])
            for m in c.get("volumeMounts", []):
                allow(m, "volumeMount", m["name"])
                if m["name"] not in self.volumes and m["name"] not in self.claims:
                    raise Unsupported(f"volumeMount {m['name']}: no such volume or volumeClaimTemplate")
            for e in c.get("env", []):
                allow(e, "env", e["name"])
            if "command" not in c:
                raise Unsupported(f"container {c['name']}: the image's ENTRYPOINT/CMD instead of a command")
            self.identity(c)
        for p in ("startupProbe", "readinessProbe", "livenessProbe"):
            allow(self.main.get(p), "probe", p)
        allow(self.main.get("lifecycle"), "lifecycle")
        allow(self.main.get("lifecycle", {}).get("preStop"), "preStop")
        for v in self.volumes.values():
            kind = sorted(set(v) - {"name"})
            if kind not in (["configMap"], ["secret"], ["emptyDir"]):
                raise Unsupported(f"volume {v['name']} of type {', '.join(kind)}")
            allow(v[kind[0]], kind[0], v["name"])
        for c in spec.get("volumeClaimTemplates", []):
            allow(c["spec"], "volumeClaimTemplate", c["metadata"]["name"])

    def identity(self, c):
        """(uid, gid, fsGroup, no_new_privs, read-only root) of a container, as the kubelet resolves them."""
        sc = c.get("securityContext", {})
        allow(sc, "container securityContext", c["name"])
        allow(sc.get("capabilities"), "capabilities", c["name"])
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            raise Unsupported(f"container {c['name']}: capabilities other than drop [ALL]")
        merged = {**self.psc, **sc}
        if "runAsUser" not in merged or "runAsGroup" not in merged:
            raise Unsupported(f"container {c['name']}: the image's USER instead of runAsUser/runAsGroup")
        if merged.get("runAsNonRoot") and merged["runAsUser"] == 0:
            raise RuntimeError(f"container {c['name']}: runAsNonRoot with runAsUser 0, the kubelet refuses it")
        return (merged["runAsUser"], merged["runAsGroup"], self.psc.get("fsGroup"),
                sc.get("allowPrivilegeEscalation") is False, bool(sc.get("readOnlyRootFilesystem")))

    def names(self, pod):
        fqdn = f"{pod.name}.{self.service}.{self.namespace}.svc.{CLUSTER_DOMAIN}"
        return [fqdn] + [fqdn.rsplit(".", n)[0] for n in (2, 3, 4)] + [pod.name]

    def write_etc(self):
        """The pods' /etc: the image's account, hosts standing in for the cluster DNS, the host's loader setup."""
        self.etc = os.path.join(self.work, "etc")
        hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        hosts += "".join(f"{p.address}\t{' '.join(self.names(p))}\n" for p in self.pods)
        search = f"{self.namespace}.svc.{CLUSTER_DOMAIN} svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}"
        for name in ("ld.so.conf.d", "alternatives"):
            shutil.copytree(os.path.join("/etc", name), os.path.join(self.etc, name), symlinks=True)
        for name in ("ld.so.cache", "ld.so.conf"):
            shutil.copy(os.path.join("/etc", name), self.etc)
        for name, text in {"passwd": self.image["passwd"], "group": self.image["group"], "hosts": hosts,
                           "resolv.conf": f"search {search}\noptions ndots:5\n",
                           "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n"}.items():
            with open(os.path.join(self.etc, name), "w") as f:
                f.write(text)

    def network_up(self):
        """A bridge with the host at .254, and each pod's namespace on it through a veth pair."""
        self.net.up()

    def materialize(self, pod):
        """A new pod's volumes as the kubelet makes them; the claims' directories are kept from earlier pods."""
        fs_group = self.psc.get("fsGroup", 0)
        pod.dir = os.path.join(self.work, "pods", f"{pod.name}.{pod.starts}")
        for name, v in self.volumes.items():
            d = pod.volumes[name] = os.path.join(pod.dir, name)
            os.makedirs(d)
            os.chown(d, 0, fs_group)
            os.chmod(d, 0o2777 if "emptyDir" in v else 0o2755)
            if "emptyDir" in v:
                continue
            src = v.get("configMap") or v["secret"]
            ref, store = (src["name"], self.configmaps) if "configMap" in v else (src["secretName"], self.secrets)
            if ref not in store and src.get("optional"):
                continue  # an optional volume whose object does not exist: an empty directory
            if ref not in store:
                raise RuntimeError(f"volume {name}: {ref} is not in the manifests, the pod would never start")
            for key, value in store[ref].items():
                path = os.path.join(d, key)
                with open(path, "wb") as f:
                    f.write(value if isinstance(value, bytes) else value.encode())
                os.chown(path, 0, fs_group)
                os.chmod(path, src.get("defaultMode", 0o644) | 0o440)  # fsGroup on a read-only volume: group-readable
        for claim in self.claims:
            d = pod.volumes[claim] = os.path.join(self.work, "claims", f"{claim}-{pod.name}")  # the PVC's name
            if not os.path.isdir(d):
                os.makedirs(d)
                os.chown(d, 0, fs_group)
                os.chmod(d, 0o2770)

    def argv(self, pod, c, command):
        """The one way anything runs in a pod: its network namespace, a fresh mount and UTS namespace with
        the container's root, then chroot, setpriv and env -i, every step exec'ing the next."""
        uid, gid, fs_group, nnp, ro_root = self.identity(c)
        q = shlex.quote
        ro = lambda path: f' && mount -o remount,bind,ro "$R"{q(path)}'
        sh = ["set -eu", f"hostname {q(pod.name)}", f"R={q(self.mnt)}", 'mount -t tmpfs -o mode=0755 pod-root "$R"',
              'mkdir "$R/usr" "$R/proc" "$R/dev" "$R/sys" "$R/etc" && mkdir -m 1777 "$R/tmp"',
              'for d in bin lib lib64 sbin; do ln -s "usr/$d" "$R/$d"; done',
              'mount --rbind /usr "$R/usr"' + ro("/usr"),
              f'mount --bind {q(pod.image_bin or self.image_bin)} "$R/usr/local/bin"' + ro("/usr/local/bin"),
              f'cp -a {q(self.etc)}/. "$R/etc/" && mkdir -p "$R/etc/ssl/certs"',
              'mount --bind /etc/ssl/certs "$R/etc/ssl/certs"' + ro("/etc/ssl/certs"),
              'for d in proc dev sys; do mount --rbind "/$d" "$R/$d"; done',
              self.image["install"] + " " + " ".join(f'"$R"{q(d)}' for d in self.image["dirs"])]
        for m in c.get("volumeMounts", []):
            path = m["mountPath"]
            sh.append(f'mkdir -p "$R"{q(path)} && mount --bind {q(pod.volumes[m["name"]])} "$R"{q(path)}'
                      + (ro(path) if m.get("readOnly") else ""))
        if ro_root:
            sh.append('mount -o remount,ro "$R"')
        env = [f"PATH={IMAGE_PATH}", f"HOSTNAME={pod.name}", "HOME=/"]
        env += [f"{e['name']}={e['value']}" for e in c.get("env", [])]
        groups = f"--groups={fs_group}" if fs_group is not None else "--clear-groups"
        inner = ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={gid}", groups, "--inh-caps=-all", "--bounding-set=-all",
                 *(["--no-new-privs"] if nnp else []), "--", "/usr/bin/env", "-i", *env, *command]
        sh.append('exec chroot "$R" ' + " ".join(q(a) for a in inner))
        return self.net.command(pod.ordinal + 1, ["unshare", "--mount", "--uts", "--propagation", "private", "--",
                                                  "bash", "-c", "\n".join(sh)])

    def run(self, pod, c, command, timeout):
        """Runs a command in the pod to completion: (exit status, or None after the timeout; output)."""
        p = subprocess.Popen(self.argv(pod, c, command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = p.communicate(timeout=timeout)
            return p.returncode, out
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # the session this Popen started
            return None, p.communicate(timeout=10)[0] + f"\n(timed out after {timeout}s)\n"

    def log(self, pod):
        return os.path.join(self.work, "logs", f"{pod.name}.{pod.starts}.log")

    def start_pod(self, pod, checks):
        """A new pod: fresh volumes (claims kept), the init containers (each must exit 0), the main container."""
        pod.starts += 1
        self.materialize(pod)
        results, output = [], ""
        for c in self.init:
            rc, out = self.run(pod, c, c["command"] + c.get("args", []), timeout=120)
            results.append(f"{c['name']} exits {rc}")
            output += out
            if rc != 0:
                break
        mount = next(m for m in self.main["volumeMounts"] if m["mountPath"] == self.data_dir)
        myid_path = os.path.join(pod.volumes[mount["name"]], "myid")
        myid = open(myid_path).read().strip() if os.path.exists(myid_path) else None
        want = next((m.group(1) for m in re.finditer(r"^server\.(\d+)=([^:]+):", self.cfg.get("zoo.cfg.dynamic", ""),
                                                     re.M) if m.group(2) in self.names(pod)), None)
        if not checks.check(all(r.endswith(" 0") for r in results) and want is not None and myid == want,
                            f"{pod.name} (start {pod.starts}): init container {', '.join(results)}; "
                            f"{self.data_dir}/myid is {myid} (zoo.cfg.dynamic: server.{want} at its name)", output):
            return False
        self.start_main(pod)
        return True

    def start_main(self, pod):
        """The server container (again, after it exited: the kubelet restarts it in the same pod)."""
        with open(self.log(pod), "a") as log:
            pod.proc = subprocess.Popen(self.argv(pod, self.main, self.main["command"] + self.main.get("args", [])),
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.procs.append(pod.proc)

    def check_process(self, pod, checks):
        """The Popen pid is zkserver itself (every step exec'd), with the pod's identity and no privilege."""
        uid, gid, fs_group, nnp, _ = self.identity(self.main)
        pid, status, deadline = pod.proc.pid, {}, time.monotonic() + 10
        while time.monotonic() < deadline and pod.proc.poll() is None:
            try:
                if os.stat(f"/proc/{pid}/exe").st_ino == os.stat(os.path.join(self.image_bin, "zkserver")).st_ino:
                    status = dict(l.split(":\t", 1) for l in open(f"/proc/{pid}/status").read().splitlines())
                    break
            except OSError:
                pass
            time.sleep(0.1)
        got = {k: status.get(k, "?").split() for k in ("Uid", "Gid", "Groups", "CapEff", "CapBnd", "NoNewPrivs")}
        checks.check(got["Uid"] == [str(uid)] * 4 and got["Gid"] == [str(gid)] * 4 and got["Groups"] == [str(fs_group)]
                     and got["CapEff"] == got["CapBnd"] == ["0" * 16] and got["NoNewPrivs"] == ["1" if nnp else "0"],
                     f"{pod.name}: pid {pid} is zkserver itself: uid {'/'.join(got['Uid'])} gid {'/'.join(got['Gid'])} "
                     f"groups {','.join(got['Groups'])} CapEff {got['CapEff'][0]} CapBnd {got['CapBnd'][0]} "
                     f"NoNewPrivs {got['NoNewPrivs'][0]}", tail(self.log(pod)))

    def check_writes(self, pod, checks):
        """Inside the container, / is read-only, and every mount is writable or read-only as its volumeMount says."""
        expect = {"/": "ro", **{m["mountPath"]: "ro" if m.get("readOnly") else "rw" for m in self.main["volumeMounts"]}}
        script = ('for d in "$@"; do if out=$(touch "$d/.pod-check" 2>&1); then rm -f "$d/.pod-check"; echo "$d rw"; '
                  'else case "$out" in *"Read-only file system"*) echo "$d ro";; *) echo "$d $out";; esac; fi; done')
        rc, out = self.run(pod, self.main, ["/bin/bash", "-c", script, "write-check", *expect], timeout=30)
        got = dict(l.split(" ", 1) for l in out.splitlines() if " " in l)
        paths = lambda mode: " ".join(p for p, m in expect.items() if m == mode)
        checks.check(rc == 0 and all(got.get(p) == m for p, m in expect.items()),
                     f"{pod.name}: as uid {self.identity(self.main)[0]}, writing fails with EROFS in {paths('ro')}, "
                     f"works in {paths('rw')}", out)

    def wait_ready(self, pods, bound, checks):
        """startupProbe until it passes, then readinessProbe until it passes, at their periods, within `bound` s.
        A startupProbe that fails failureThreshold times in a row: the kubelet would kill the container."""
        phases = [p for p in ("startupProbe", "readinessProbe") if p in self.main]
        start = time.monotonic()
        state = {p.name: {"phase": 0, "due": start, "failures": 0, "out": ""} for p in pods}
        took = {}
        while len(took) < len(pods) and time.monotonic() < start + bound:
            for pod in (p for p in pods if p.name not in took and time.monotonic() >= state[p.name]["due"]):
                s = state[pod.name]
                if pod.proc.poll() is not None:
                    return checks.check(False, f"{pod.name}: the server exited ({pod.proc.returncode}) before it was "
                                               "ready", tail(self.log(pod)))
                probe = self.main[phases[s["phase"]]]
                rc, out = self.run(pod, self.main, probe["exec"]["command"], probe.get("timeoutSeconds", 1))
                s["due"] = time.monotonic() + probe.get("periodSeconds", 10)
                if rc == 0:
                    s["phase"], s["failures"] = s["phase"] + 1, 0
                    if s["phase"] == len(phases):
                        took[pod.name] = time.monotonic() - start
                    else:
                        s["due"] = time.monotonic() + self.main[phases[s["phase"]]].get("initialDelaySeconds", 0)
                    continue
                s["failures"], s["out"] = s["failures"] + 1, f"{' '.join(probe['exec']['command'])}: {rc}\n{out}"
                if phases[s["phase"]] == "startupProbe" and s["failures"] >= probe.get("failureThreshold", 3):
                    return checks.check(False, f"{pod.name}: startupProbe failed {s['failures']} times, the kubelet "
                                               "would kill the container", s["out"] + tail(self.log(pod)))
            time.sleep(0.2)
        late = [p for p in pods if p.name not in took]
        return checks.check(not late, f"{' then '.join(phases)} pass on "
                            + (", ".join(f"{n} after {t:.1f}s" for n, t in took.items()) or "no pod")
                            + (f"; not ready within {bound}s: " + ", ".join(p.name for p in late) if late else ""),
                            "".join(state[p.name]["out"] + tail(self.log(p)) for p in late))

    def delete_pod(self, pod, checks):
        """As the kubelet deletes a pod: preStop, then SIGTERM, then SIGKILL once the grace period is over;
        then the pod's ephemeral volumes go."""
        t0 = time.monotonic()
        hook = self.main.get("lifecycle", {}).get("preStop")
        rc, out = self.run(pod, self.main, hook["exec"]["command"], self.grace) if hook else (0, "")
        t1 = time.monotonic()
        pod.proc.send_signal(signal.SIGTERM)
        try:  # the kubelet grants 2 s more when the hook used up the grace period
            status, killed = pod.proc.wait(timeout=max(2, self.grace - (t1 - t0))), False
        except subprocess.TimeoutExpired:
            pod.proc.kill()
            status, killed = pod.proc.wait(timeout=10), True
        shutil.rmtree(pod.dir)
        return checks.check(rc == 0 and not killed and status == 0,
                            f"{pod.name} deleted: preStop {' '.join(hook['exec']['command']) if hook else '(none)'} "
                            f"exits {rc} after {t1 - t0:.1f}s, then the server exits {status} "
                            f"{time.monotonic() - t1:.1f}s after SIGTERM{' (SIGKILL)' if killed else ''}, "
                            f"grace period {self.grace}s", out + tail(self.log(pod)))

    def cleanup(self):
        for p in self.procs:  # only the servers this script started, by their pid
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)
        self.net.down()


def tail(path, lines=15):
    try:
        return "\n".join(open(path, errors="replace").read().splitlines()[-lines:]) + "\n"
    except OSError:
        return ""


def conclude(checks, work, keep):
    """The end of a run: keep or remove the work directory, then the last line, `N passed, M failed`."""
    if keep:
        print(f"work dir kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{checks.passed} passed, {checks.failed} failed")


def zk_roundtrip(cl, pods, path, value=None):
    """kazoo from the host: writes `value` through the first pod when given, then reads the node through every
    pod after a sync. Returns {pod: data}, or {"error": ...}."""
    from kazoo.client import KazooClient
    seen = {}
    for i, pod in enumerate(pods):
        zk = KazooClient(hosts=f"{pod.address}:{cl.client_port}", timeout=10)
        try:
            zk.start(timeout=20)
            if value is not None and i == 0:
                zk.ensure_path(path)
                zk.set(path, value)
            zk.sync(path)
            seen[pod.name] = zk.get(path)[0]
        except Exception as e:
            return {**seen, "error": repr(e).encode()}
        finally:
            zk.stop()
            zk.close()
    return seen


def scenario(cl, checks, ready_timeout):
    pods = cl.pods
    if not all([cl.start_pod(p, checks) for p in pods]):  # podManagementPolicy Parallel: no pod waits for another
        return
    for p in pods:
        cl.check_process(p, checks)
    for p in pods:
        cl.check_writes(p, checks)
    if not cl.wait_ready(pods, ready_timeout, checks):
        return
    value, path = f"written by pod_check.py {os.getpid()} through {pods[0].name}".encode(), "/pod-check"
    seen = zk_roundtrip(cl, pods, path, value)
    checks.check(list(seen.values()) == [value] * len(pods),
                 f"kazoo from the host ({SUBNET}.254) to port {cl.client_port} of every pod: written through "
                 f"{pods[0].name}, read after sync through {', '.join(p.name for p in pods[1:])}", repr(seen))
    victim = pods[-1]
    files = lambda: {os.path.relpath(os.path.join(d, f), cl.work) for c in cl.claims
                     for d, _, fs in os.walk(victim.volumes[c]) for f in fs}
    before = files()
    if not cl.delete_pod(victim, checks) or not cl.start_pod(victim, checks):
        return
    cl.check_process(victim, checks)
    if not cl.wait_ready([victim], ready_timeout, checks):
        return
    after, seen = files(), zk_roundtrip(cl, [victim], path)
    checks.check(before <= after and seen.get(victim.name) == value,
                 f"{victim.name} restarted on its persistent volumes ({', '.join(cl.claims)}): its {len(before)} files "
                 f"are still there, and it serves {path} written before", f"missing: {sorted(before - after)}\n{seen!r}")
    probe = cl.main.get("livenessProbe")
    if checks.check(probe is not None, "the server container has a livenessProbe"):
        for p in pods:
            rc, out = cl.run(p, cl.main, probe["exec"]["command"], probe.get("timeoutSeconds", 1))
            checks.check(rc == 0, f"{p.name}: livenessProbe {' '.join(probe['exec']['command'])} passes", out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zkctl", default=str(binaries.newest("zkctl")))
    ap.add_argument("--zkserver", default=str(binaries.newest("zkserver")))
    ap.add_argument("--inventory", default=os.path.join(REPO, "inventory/production-3.yaml"))
    ap.add_argument("--manifests", help="run these manifests instead of generating them with zkctl")
    ap.add_argument("--ready-timeout", type=float, default=60, help="seconds for the pods to become ready")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (manifests, volumes, logs)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: pod_check.py needs root (network namespaces, mounts, setpriv); run it as root")
        return 77
    for b in [args.zkserver] + ([] if args.manifests else [args.zkctl]):
        if not os.access(b, os.X_OK):
            print(f"error: {b} is not an executable; build it or pass --zkctl/--zkserver", file=sys.stderr)
            return 2
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # failures surface in the checks
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a timeout's SIGTERM: fail and clean up, as Ctrl-C
    work = tempfile.mkdtemp(prefix="zk-pod-check.")
    checks, cl = Checks(), None
    try:
        manifests = args.manifests or os.path.join(work, "manifests")
        if not args.manifests:
            r = subprocess.run([args.zkctl, "generate", "kubernetes", "-i", os.path.abspath(args.inventory), "--engine",
                                "bundled", "-o", manifests], cwd=REPO, capture_output=True, text=True, timeout=120)
            if not checks.check(r.returncode == 0, f"zkctl generate kubernetes -i {os.path.relpath(args.inventory, REPO)}"
                                                   " --engine bundled", r.stdout + r.stderr):
                return 1
        cl = Cluster(work, manifests, args.zkserver)
        print(f"== {len(cl.pods)} pods of {cl.service}.{cl.namespace}: "
              f"{', '.join(p.name + ' ' + p.address for p in cl.pods)}; work dir {work}", flush=True)
        cl.network_up()
        scenario(cl, checks, args.ready_timeout)
    except Unsupported as e:
        checks.check(False, f"cannot emulate the manifests: {e}")
    except KeyboardInterrupt:
        checks.check(False, "interrupted (SIGTERM or Ctrl-C)")
    except Exception as e:
        checks.check(False, f"{type(e).__name__}: {e}", traceback.format_exc())
    finally:
        if cl:
            cl.cleanup()
        conclude(checks, work, args.keep)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
