"""A Kubernetes stand-in backed by real processes, so that `zkctl k8s` runs end to end without a cluster.

It serves the kubectl calls zkctl makes, over a Unix socket that `Tests/deploy/standin-kubectl` (installed
as `kubectl` in PATH) forwards its command line to. Behind them:
  - the API objects of the manifests (ConfigMaps, Secrets, the StatefulSet's replicas and pod template),
    changed by `apply -f/-k`, `set image` and `scale`, and the PersistentVolumeClaims (`get`, `delete`);
  - the StatefulSet controller: podManagementPolicy Parallel (every missing ordinal below the replicas is
    created at once, every ordinal at or above it deleted at once) and updateStrategy OnDelete (a running
    pod keeps the template it was created from; only a pod that is deleted comes back with the new one);
  - the kubelet: each pod runs as `deploy.pod_check` runs it (its network namespace, the image's root,
    uid/gid, fsGroup, no capabilities, read-only root, ConfigMap/Secret/emptyDir volumes, the claims'
    directories that outlive the pod); the startup, readiness and liveness probes at their periods and
    thresholds set the Ready condition or restart the container; a deletion runs preStop, SIGTERM, then
    SIGKILL after the grace period; a server container that exits is restarted in the same pod;
  - `exec` runs the command in the pod, `wait --for=condition=Ready` waits for the probes' verdict,
    `port-forward` listens on 127.0.0.1 and relays to the pod's address.
Images are mapped to zkserver binaries (`images`); a pod of an unknown image stays Pending (ErrImagePull).
There is one namespace and one context (`standin`): another one gets what kubectl gets from a cluster
without those objects, or without that context.

Needs root (it runs the pods as `deploy.pod_check` does). Used by `deploy.k8s_e2e`.
"""
import base64
import json
import os
import re
import shutil
import socket
import socketserver
import threading
import time

import yaml

from deploy.pod_check import Checks, Cluster, tail

CONTEXT = "standin"


class LoggedChecks(Checks):
    """pod_check's checks, written to the stand-in's log; the scenario asserts that none failed."""

    def __init__(self, log):
        super().__init__()
        self.log = log
        self.failures = []

    def check(self, good, text, detail=""):
        if good:
            self.passed += 1
            self.log(f"kubelet: ok: {text}")
        else:
            self.failed += 1
            self.failures.append(text)
            self.log(f"kubelet: FAIL: {text}\n" + "".join(f"    {l}\n" for l in detail.strip().splitlines()[-15:]))
        return good


class Failure(Exception):
    """What kubectl prints and exits with for a request the cluster refuses."""

    def __init__(self, message, rc=1):
        super().__init__(message)
        self.rc = rc


class StandIn:
    def __init__(self, work, manifests, images, slots, log=print):
        """`manifests`: a directory `zkctl generate kubernetes -o` wrote, applied as `kubectl apply -k` would;
        `images`: image name -> zkserver binary; `slots`: the most pods the StatefulSet may have."""
        self.log = log
        self.lock = threading.RLock()
        self.checks = LoggedChecks(log)
        self.images = {}
        for i, (name, binary) in enumerate(sorted(images.items())):
            d = os.path.join(work, "images", str(i))
            os.makedirs(d)
            shutil.copy(binary, os.path.join(d, "zkserver"))
            os.chmod(os.path.join(d, "zkserver"), 0o755)
            self.images[name] = d
        self.cl = Cluster(work, manifests, next(iter(images.values())), slots=slots)
        sts = self._objects_of_dir(manifests, "StatefulSet")[0]
        self.sts_name = sts["metadata"]["name"]
        self.namespace = self.cl.namespace
        self.replicas = sts["spec"]["replicas"]
        self.labels = sts["spec"]["template"]["metadata"]["labels"]
        self.state = {p.ordinal: "absent" for p in self.cl.pods}  # absent, pending, running, terminating
        self.ready = {p.ordinal: False for p in self.cl.pods}
        self.pod_image = {}
        self.stopping = False
        self.threads = []

    # -- objects -----------------------------------------------------------------------------------

    @staticmethod
    def _objects_of_dir(directory, kind=None):
        kust = yaml.safe_load(open(os.path.join(directory, "kustomization.yaml")))
        objs = [o for f in kust["resources"] for o in yaml.safe_load_all(open(os.path.join(directory, f))) if o]
        return [o for o in objs if kind is None or o["kind"] == kind]

    def apply(self, objects, namespace):
        """What `kubectl apply` changes here: ConfigMaps, Secrets and the StatefulSet's replicas and images."""
        out = []
        with self.lock:
            for o in objects:
                ns = o.get("metadata", {}).get("namespace") or namespace or self.namespace
                if ns != self.namespace:
                    raise Failure(f'Error from server (NotFound): namespaces "{ns}" not found')
                kind, name = o["kind"], o["metadata"]["name"]
                if kind == "ConfigMap":
                    data = {**o.get("data", {}), **{k: base64.b64decode(v) for k, v in o.get("binaryData", {}).items()}}
                    changed = self.cl.configmaps.get(name) != data
                    self.cl.configmaps[name] = data
                    if "zoo.cfg" in data:
                        self.cl.cfg = data
                elif kind == "Secret":
                    data = {**{k: base64.b64decode(v) for k, v in o.get("data", {}).items()}, **o.get("stringData", {})}
                    changed = self.cl.secrets.get(name) != data
                    self.cl.secrets[name] = data
                elif kind == "StatefulSet":
                    if name != self.sts_name:
                        raise Failure(f"the stand-in runs one StatefulSet ({self.sts_name}), not {name}")
                    spec = o["spec"]
                    before = (self.replicas, self.template_images())
                    self.replicas = spec["replicas"]
                    self.set_images({c["name"]: c["image"] for c in spec["template"]["spec"].get("initContainers", [])
                                     + spec["template"]["spec"]["containers"]})
                    changed = before != (self.replicas, self.template_images())
                    self.log(f"api: StatefulSet {name}: replicas {self.replicas}, images {self.template_images()}")
                else:
                    changed = False
                out.append(f"{kind.lower()}/{name} {'configured' if changed else 'unchanged'}\n")
        return "".join(out)

    def template_images(self):
        return {c["name"]: c["image"] for c in self.cl.init + [self.cl.main]}

    def set_images(self, images):
        known = {c["name"]: c for c in self.cl.init + [self.cl.main]}
        unknown = sorted(set(images) - set(known))
        if unknown:
            raise Failure(f'error: unable to find container named "{unknown[0]}"')
        for name, image in images.items():
            known[name]["image"] = image

    # -- the StatefulSet controller and the kubelet -------------------------------------------------

    def start(self):
        self.cl.network_up()
        self._spawn(self._controller)

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        self.threads.append(t)

    def _controller(self):
        while not self.stopping:
            with self.lock:
                for pod in self.cl.pods:
                    want = pod.ordinal < self.replicas
                    if want and self.state[pod.ordinal] == "absent":
                        self.state[pod.ordinal] = "pending"
                        self._spawn(self._run_pod, pod)
                    elif not want and self.state[pod.ordinal] in ("pending", "running"):
                        self.state[pod.ordinal] = "terminating"
                        self._spawn(self._delete, pod)
            time.sleep(0.2)

    def _run_pod(self, pod):
        """A new pod from the current template: image, init containers, server container, then its probes."""
        image = self.cl.main["image"]
        self.pod_image[pod.ordinal] = image
        if image not in self.images:
            self.log(f"kubelet: {pod.name}: ErrImagePull: {image} is not an image this stand-in has")
            return  # stays Pending until deleted
        pod.image_bin = self.images[image]
        while not self.stopping:
            with self.lock:
                if self.state[pod.ordinal] != "pending":
                    return
            if self.cl.start_pod(pod, self.checks):
                break
            self.log(f"kubelet: {pod.name}: Init:Error; retrying in 5s\n{tail(self.cl.log(pod))}")
            time.sleep(5)  # Init:CrashLoopBackOff
        with self.lock:
            if self.state[pod.ordinal] != "pending":
                return
            self.state[pod.ordinal] = "running"
        self.log(f"kubelet: {pod.name} started (image {image}, start {pod.starts}, pid {pod.proc.pid})")
        self._probe(pod, pod.starts)

    def _probe(self, pod, start):
        """startupProbe until it passes, then readiness and liveness at their periods, while this pod lives.
        A container that exits, or fails its startup or liveness probe failureThreshold times, is restarted."""
        main = self.cl.main
        alive = lambda: self.state[pod.ordinal] == "running" and pod.starts == start and not self.stopping
        started, due, fails = False, {}, {}
        while alive():
            if pod.proc.poll() is not None:
                self.log(f"kubelet: {pod.name}: the server exited ({pod.proc.returncode}); restarting the container\n"
                         f"{tail(self.cl.log(pod))}")
                self.ready[pod.ordinal], started = False, False
                time.sleep(1)
                with self.lock:
                    if not alive():
                        return
                    self.cl.start_main(pod)
                continue
            now = time.monotonic()
            for kind in (("startupProbe",) if not started else ("readinessProbe", "livenessProbe")):
                probe = main.get(kind)
                if probe is None:
                    started = started or kind == "startupProbe"
                    continue
                if now < due.get(kind, 0):
                    continue
                due[kind] = now + probe.get("periodSeconds", 10)
                rc, out = self.cl.run(pod, main, probe["exec"]["command"], probe.get("timeoutSeconds", 1))
                if not alive():
                    return
                if rc == 0:
                    fails[kind] = 0
                    if kind == "startupProbe":
                        started = True
                    elif kind == "readinessProbe" and not self.ready[pod.ordinal]:
                        self.ready[pod.ordinal] = True
                        self.log(f"kubelet: {pod.name} is Ready")
                    continue
                fails[kind] = fails.get(kind, 0) + 1
                if kind == "readinessProbe" and fails[kind] >= probe.get("failureThreshold", 3) and self.ready[pod.ordinal]:
                    self.ready[pod.ordinal] = False
                    self.log(f"kubelet: {pod.name} is not Ready: {out.strip()[-200:]}")
                if kind != "readinessProbe" and fails[kind] >= probe.get("failureThreshold", 3):
                    self.log(f"kubelet: {pod.name}: {kind} failed {fails[kind]} times; killing the container")
                    pod.proc.kill()
                    pod.proc.wait(timeout=10)
                    fails[kind] = 0
            time.sleep(0.1)

    def _delete(self, pod):
        """As the kubelet deletes a pod (pod_check's delete_pod), then the ordinal is free again."""
        if pod.proc is not None and pod.proc.poll() is None:
            self.cl.delete_pod(pod, self.checks)
        elif pod.dir and os.path.isdir(pod.dir):
            shutil.rmtree(pod.dir)
        with self.lock:
            self.ready[pod.ordinal] = False
            pod.proc = None
            self.state[pod.ordinal] = "absent"
        self.log(f"kubelet: {pod.name} deleted")

    def stop(self):
        self.stopping = True
        for p in self.cl.pods:
            if p.proc is not None and p.proc.poll() is None:
                self.cl.delete_pod(p, self.checks)
        self.cl.cleanup()

    # -- kubectl ------------------------------------------------------------------------------------

    def pod(self, name):
        for p in self.cl.pods:
            if p.name == name and self.state[p.ordinal] != "absent":
                return p
        return None

    def claims(self):
        root = os.path.join(self.cl.work, "claims")
        return sorted(os.listdir(root)) if os.path.isdir(root) else []

    def handle(self, argv, files, conn):
        """One kubectl command line: (stdout, exit status); raises Failure for what kubectl reports as an error."""
        args, flags = [], {}
        i = 0
        while i < len(argv):
            a = argv[i]
            if a == "--":
                args += argv[i:]
                break
            m = re.fullmatch(r"(-n|--namespace|--context|-c|-o|-l|-f|-k|--address|--replicas|--timeout|--for|--wait)(?:=(.*))?", a)
            if m and m.group(2) is None and a not in ("--wait",):
                flags[m.group(1)] = argv[i + 1]
                i += 2
                continue
            if m:
                flags[m.group(1)] = m.group(2)
            else:
                args.append(a)
            i += 1
        context = flags.get("--context")
        if context is not None and context != CONTEXT:
            raise Failure(f'error: context "{context}" does not exist')
        ns = flags.get("-n", flags.get("--namespace"))
        here = ns is None or ns == self.namespace
        verb = args[0] if args else ""
        if verb == "version":
            return "Client Version: standin\nServer Version: standin\n", 0
        if verb == "get" and len(args) >= 2:
            kind = args[1]
            if kind in ("pods", "pod"):
                if flags.get("-o", "").startswith("jsonpath=") and "status.phase" not in flags["-o"]:
                    raise Failure(f"the stand-in answers the pod columns zkctl asks for, not {flags['-o']}")
                want = dict(kv.split("=", 1) for kv in flags.get("-l", "").split(",") if kv)
                if not here or any(self.labels.get(k) != v for k, v in want.items()):
                    return "", 0
                with self.lock:
                    rows = [f"{p.name}\t{'Pending' if self.state[p.ordinal] == 'pending' else 'Running'}\t"
                            f"{'True' if self.ready[p.ordinal] else 'False'}\n"
                            for p in self.cl.pods if self.state[p.ordinal] != "absent"]
                return "".join(rows), 0
            name = args[2] if len(args) > 2 else ""
            if kind in ("statefulset", "statefulsets", "sts"):
                if not here or name != self.sts_name:
                    raise Failure(f'Error from server (NotFound): statefulsets.apps "{name}" not found')
                if flags.get("-o") != "jsonpath={.spec.replicas}":
                    raise Failure(f"the stand-in answers -o jsonpath={{.spec.replicas}} for a StatefulSet, not {flags.get('-o')}")
                return str(self.replicas), 0
            if kind in ("secret", "secrets"):
                data = self.cl.secrets.get(name) if here else None
                if data is None:
                    raise Failure(f'Error from server (NotFound): secrets "{name}" not found')
                m = re.fullmatch(r"jsonpath=\{\.data\.(.+)\}", flags.get("-o", ""))
                if not m:
                    raise Failure("the stand-in answers -o jsonpath={.data.KEY} for a Secret")
                value = data.get(m.group(1).replace("\\.", "."))
                value = value.encode() if isinstance(value, str) else value
                return (base64.b64encode(value).decode() if value is not None else ""), 0
            if kind in ("pvc", "persistentvolumeclaims"):
                return "".join(c + "\n" for c in self.claims()) if here else "", 0
            raise Failure(f"the stand-in does not serve get {kind}")
        if verb == "apply":
            return self.apply([o for text in files for o in yaml.safe_load_all(text) if o], ns), 0
        if verb == "scale":
            target = args[1] if len(args) > 1 else ""
            if not here or target not in (f"statefulset/{self.sts_name}", f"sts/{self.sts_name}"):
                raise Failure(f'Error from server (NotFound): statefulsets.apps "{target.split("/")[-1]}" not found')
            n = int(flags["--replicas"])
            if n > len(self.cl.pods):
                raise Failure(f"the stand-in has room for {len(self.cl.pods)} pods, not {n}")
            with self.lock:
                self.replicas = n
            self.log(f"api: StatefulSet {self.sts_name} scaled to {n}")
            return f"statefulset.apps/{self.sts_name} scaled\n", 0
        if verb == "set" and len(args) >= 3 and args[1] == "image":
            if not here or args[2] != f"statefulset/{self.sts_name}":
                raise Failure(f'Error from server (NotFound): statefulsets.apps "{args[2].split("/")[-1]}" not found')
            with self.lock:
                self.set_images(dict(a.split("=", 1) for a in args[3:]))
            self.log(f"api: StatefulSet {self.sts_name}: images {self.template_images()}")
            return f"statefulset.apps/{self.sts_name} image updated\n", 0
        if verb == "delete" and len(args) >= 3 and args[1] in ("pod", "pods"):
            pod = self.pod(args[2]) if here else None
            if pod is None:
                raise Failure(f'Error from server (NotFound): pods "{args[2]}" not found')
            with self.lock:
                already = self.state[pod.ordinal] == "terminating"
                self.state[pod.ordinal] = "terminating"
            self.log(f"api: delete pod {pod.name}")
            if already:
                self.wait(lambda: self.state[pod.ordinal] != "terminating", 150)
            else:
                self._delete(pod)
            return f'pod "{pod.name}" deleted\n', 0
        if verb == "delete" and len(args) >= 3 and args[1] in ("pvc", "persistentvolumeclaims"):
            out = []
            for claim in args[2:]:
                d = os.path.join(self.cl.work, "claims", claim)
                if not here or not os.path.isdir(d):
                    raise Failure(f'Error from server (NotFound): persistentvolumeclaims "{claim}" not found')
                # kubernetes.io/pvc-protection: the claim goes once no pod uses it.
                user = lambda: next((p for p in self.cl.pods if self.state[p.ordinal] != "absent"
                                     and claim.endswith("-" + p.name)), None)
                if not self.wait(lambda: user() is None, 120):
                    raise Failure(f"error: timed out waiting for the condition on persistentvolumeclaims/{claim}")
                shutil.rmtree(d)
                self.log(f"api: delete pvc {claim}")
                out.append(f'persistentvolumeclaim "{claim}" deleted\n')
            return "".join(out), 0
        if verb == "wait" and len(args) >= 2 and args[1].startswith("pod/"):
            name = args[1][4:]
            timeout = float(flags.get("--timeout", "30s").rstrip("s"))
            cond = flags.get("--for")
            if cond == "delete":
                ok = self.wait(lambda: not here or self.pod(name) is None, timeout)
            elif cond == "condition=Ready":
                if not here or self.pod(name) is None:
                    raise Failure(f'Error from server (NotFound): pods "{name}" not found')
                ok = self.wait(lambda: (p := self.pod(name)) is not None and self.ready[p.ordinal], timeout)
            else:
                raise Failure(f"the stand-in waits for condition=Ready or delete, not {cond}")
            if not ok:
                raise Failure(f"error: timed out waiting for the condition on pods/{name}")
            return f"pod/{name} condition met\n", 0
        if verb == "exec" and "--" in args:
            name, command = args[1], args[args.index("--") + 1:]
            pod = self.pod(name) if here else None
            if pod is None:
                raise Failure(f'Error from server (NotFound): pods "{name}" not found')
            if flags.get("-c", self.cl.main["name"]) != self.cl.main["name"]:
                raise Failure(f'error: container {flags["-c"]} not found in pod {name}')
            if self.state[pod.ordinal] != "running" or pod.proc is None or pod.proc.poll() is not None:
                raise Failure("error: unable to upgrade connection: container not found (\"zookeeper\")")
            rc, out = self.cl.run(pod, self.cl.main, command, timeout=60)
            return out, (rc if rc is not None else 137)
        if verb == "port-forward" and len(args) >= 3 and args[1].startswith("pod/"):
            pod = self.pod(args[1][4:]) if here else None
            if pod is None:
                raise Failure(f'Error from server (NotFound): pods "{args[1][4:]}" not found')
            self.port_forward(pod, int(args[2].split(":")[-1]), conn)
            return None, 0
        raise Failure(f"the stand-in does not serve: kubectl {' '.join(argv)}")

    def wait(self, cond, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if cond():
                    return True
            time.sleep(0.1)
        return False

    def port_forward(self, pod, port, conn):
        """Listens on 127.0.0.1 and relays every connection to the pod's port until the client goes."""
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)
        conn.sendall((json.dumps({"out": f"Forwarding from 127.0.0.1:{lsock.getsockname()[1]} -> {port}\n"}) + "\n").encode())

        def relay(a, b):
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        def accept():
            while True:
                try:
                    c, _ = lsock.accept()
                except OSError:
                    return
                try:
                    up = socket.create_connection((pod.address, port), timeout=5)
                    up.settimeout(None)
                except OSError as e:
                    self.log(f"port-forward: {pod.name}:{port}: {e}")
                    c.close()
                    continue
                for a, b in ((c, up), (up, c)):
                    threading.Thread(target=relay, args=(a, b), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        try:
            while conn.recv(1024):  # the client sends nothing more; EOF when it is stopped
                pass
        except OSError:
            pass
        lsock.close()

    # -- the socket kubectl talks to ----------------------------------------------------------------

    def serve(self, path):
        standin = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                req = json.loads(self.rfile.readline())
                try:
                    out, rc = standin.handle(req["argv"], req.get("files", []), self.connection)
                    if out is None:
                        return
                    reply = {"out": out, "rc": rc}
                except Failure as f:
                    reply = {"err": str(f) + "\n", "rc": f.rc}
                except Exception as e:  # a bug of the stand-in: say so, as kubectl would not
                    reply = {"err": f"stand-in error: {type(e).__name__}: {e}\n", "rc": 2}
                standin.log(f"kubectl {' '.join(req['argv'])[:160]} -> {reply['rc']}")
                try:
                    self.wfile.write((json.dumps(reply) + "\n").encode())
                except OSError:
                    pass

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.server = Server(path, Handler)
        os.chmod(path, 0o666)  # kubectl runs as the unprivileged account, like an API server's clients
        self._spawn(self.server.serve_forever)
        return self
