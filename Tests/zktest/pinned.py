"""Writers pinned to members: one kazoo client per member, each connected to that member only, each
creating znodes back to back. The figure they give is the longest stretch in which no write was
acknowledged anywhere in the ensemble, the availability a client sees when it may use any member.

A write whose outcome is unknown (connection loss, no answer in time) is retried on the same path until
it is acknowledged or known to exist with its data; any other error is a failure. Every loop is
bounded by `max_seconds`.
"""
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, NodeExistsError, OperationTimeoutError, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError

UNKNOWN = (ConnectionLoss, OperationTimeoutError, KazooTimeoutError, SessionExpiredError)


class PinnedWriter(threading.Thread):
    def __init__(self, host, base, pause=0.01, max_seconds=600.0):
        super().__init__(daemon=True)
        self.host = host
        self.base = base
        self.pause = pause
        self.max_seconds = max_seconds
        self.stop_event = threading.Event()
        self.acked = []          # (monotonic time of the acknowledgement, path)
        self.failures = []       # (path, error) of writes that failed with a definite error
        self.retries = 0
        self.client = KazooClient(hosts=host, timeout=10.0,
                                  connection_retry=dict(max_tries=-1, delay=0.01, backoff=1.5, max_delay=0.1))

    def start_client(self):
        self.client.start(timeout=60)
        self.client.ensure_path(self.base)

    def _write(self, path, data):
        deadline = time.monotonic() + self.max_seconds
        while time.monotonic() < deadline:
            try:
                self.client.create_async(path, data).get(timeout=5)
                return True
            except NodeExistsError:
                # an earlier attempt whose answer was lost
                try:
                    got = self.client.get_async(path).get(timeout=5)[0]
                except UNKNOWN:
                    self.retries += 1
                    time.sleep(0.01)
                    continue
                if got == data:
                    return True
                self.failures.append((path, "exists with other data"))
                return False
            except UNKNOWN:
                self.retries += 1
                if self.stop_event.is_set():
                    return False
                time.sleep(0.01)
            except Exception as e:  # noqa: BLE001 - any other error is a failed write
                self.failures.append((path, repr(e)))
                return False
        self.failures.append((path, f"not acknowledged in {self.max_seconds} s"))
        return False

    def run(self):
        began = time.monotonic()
        i = 0
        while not self.stop_event.is_set() and time.monotonic() - began < self.max_seconds:
            i += 1
            path = f"{self.base}/w{i:07d}"
            if self._write(path, path.encode()):
                self.acked.append((time.monotonic(), path))
            time.sleep(self.pause)

    def close(self):
        try:
            self.client.stop()
            self.client.close()
        except Exception:  # noqa: BLE001
            pass


class PinnedWriters:
    """One PinnedWriter per host of `hosts` (a list of host:port)."""

    def __init__(self, hosts, base="/pinned", pause=0.01, max_seconds=600.0):
        self.writers = [PinnedWriter(h, f"{base}/{k}", pause, max_seconds) for k, h in enumerate(hosts)]
        self.hosts = hosts

    def start(self):
        for w in self.writers:
            w.start_client()
        for w in self.writers:
            w.start()
        self.began = time.monotonic()

    def stop(self):
        self.ended = time.monotonic()
        for w in self.writers:
            w.stop_event.set()
        for w in self.writers:
            w.join(timeout=60)

    def longest_gap(self, start, end):
        """Longest stretch within [start, end] with no acknowledged write by any writer (seconds)."""
        times = sorted([start, end] + [t for w in self.writers for t, _ in w.acked if start <= t <= end])
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)

    def verify(self, client):
        """Acknowledged writes missing from the ensemble (read through `client` after a sync)."""
        lost = []
        for w in self.writers:
            client.sync(w.base)
            present = set(client.get_children(w.base))
            lost += [p for _, p in w.acked if p.rsplit("/", 1)[1] not in present]
        return lost

    @property
    def acked(self):
        return sum(len(w.acked) for w in self.writers)

    @property
    def failures(self):
        return [f for w in self.writers for f in w.failures]

    def close(self):
        for w in self.writers:
            w.close()
