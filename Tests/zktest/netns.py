"""Real network partitions for tests: each node in its own network namespace, joined by a bridge that
this module creates (and removes) in the test's own sandbox. Addresses are link-local (169.254.77.0/24
by default; Tests/deploy/pod_check.py's pods use another subnet) and exist only inside these namespaces
and on the bridge; links are cut with blackhole routes.

Needs root and iproute2; `available()` says why not otherwise."""
import os
import subprocess

SUBNET = "169.254.77"


def _ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def available():
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    tag = f"zkp{os.getpid() % 100000}"
    r = _ip("netns", "add", tag, check=False)
    if r.returncode != 0:
        return False, f"cannot create a network namespace: {r.stderr.strip()}"
    _ip("netns", "del", tag, check=False)
    return True, ""


class Network:
    """Namespaces <tag>n1..<tag>nN on the bridge <tag>br; node i has address <subnet>.i, the host side
    <subnet>.254. The tag (default zk<pid>) keeps the names of concurrent runs apart."""

    def __init__(self, count, subnet=SUBNET, tag=None):
        self.tag = tag or f"zk{os.getpid() % 100000}"
        self.subnet = subnet
        self.count = count
        self.bridge = f"{self.tag}br"
        self.cut = set()
        self.created = []

    def ns(self, i):
        return f"{self.tag}n{i}"

    def address(self, i):
        return f"{self.subnet}.{i}"

    def up(self):
        _ip("link", "add", self.bridge, "type", "bridge")
        self.created.append(("link", self.bridge))
        _ip("addr", "add", f"{self.subnet}.254/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i in range(1, self.count + 1):
            ns, host, peer = self.ns(i), f"{self.tag}h{i}", f"{self.tag}p{i}"
            _ip("netns", "add", ns)
            self.created.append(("netns", ns))
            _ip("link", "add", host, "type", "veth", "peer", "name", peer)
            self.created.append(("link", host))
            _ip("link", "set", peer, "netns", ns)
            _ip("link", "set", host, "master", self.bridge)
            _ip("link", "set", host, "up")
            _ip("-n", ns, "addr", "add", f"{self.address(i)}/24", "dev", peer)
            _ip("-n", ns, "link", "set", peer, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        return self

    def command(self, i, argv):
        return ["ip", "netns", "exec", self.ns(i), *argv]

    def partition(self, side_a, side_b):
        """Cuts every link between the two sides (both directions)."""
        for a in side_a:
            for b in side_b:
                for x, y in ((a, b), (b, a)):
                    if (x, y) not in self.cut:
                        _ip("-n", self.ns(x), "route", "add", "blackhole", f"{self.address(y)}/32")
                        self.cut.add((x, y))

    def heal(self):
        for x, y in list(self.cut):
            _ip("-n", self.ns(x), "route", "del", "blackhole", f"{self.address(y)}/32", check=False)
        self.cut.clear()

    def down(self):
        self.heal()
        for kind, name in reversed(self.created):
            if kind == "netns":
                _ip("netns", "del", name, check=False)
            else:
                _ip("link", "del", name, check=False)
        self.created = []
