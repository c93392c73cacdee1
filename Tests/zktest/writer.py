"""A bounded write load for ensemble fault tests.

Each Writer owns one KazooClient (connect string: every member) and one subtree. It alternates
sequential creates under `<base>/seq-` with version-checked setData on `<base>/counter`, and
records every write the server acknowledged. A write whose outcome is unknown (connection loss,
or no reply within the per-call bound) is retried; nothing else is retried. Every call is bounded
by `call_timeout`, and the loop by `max_ops` and `max_seconds`.
"""
import threading
import time

from kazoo.exceptions import BadVersionError, ConnectionLoss, NodeExistsError, OperationTimeoutError
from kazoo.handlers.threading import KazooTimeoutError

UNKNOWN_OUTCOME = (ConnectionLoss, OperationTimeoutError, KazooTimeoutError)


class Writer(threading.Thread):
    def __init__(self, client, base, call_timeout=5.0, max_ops=20000, max_seconds=180.0):
        super().__init__(daemon=True)
        self.client = client
        self.base = base
        self.call_timeout = call_timeout
        self.max_ops = max_ops
        self.max_seconds = max_seconds
        self.stop_event = threading.Event()
        self.acked_creates = {}  # path -> data
        self.acked_sets = []  # (version after the set, data)
        self.unknown = 0  # attempts whose outcome was unknown (then retried)
        self.errors = []  # unexpected exceptions (the thread stops on the first one)
        self.lock = threading.Lock()
        self.last_ack = time.monotonic()

    @property
    def acked(self):
        with self.lock:
            return len(self.acked_creates) + len(self.acked_sets)

    def _call(self, fn, *args, **kwargs):
        return fn(*args, **kwargs).get(timeout=self.call_timeout)

    def _retrying(self, fn, *args, **kwargs):
        """Run one async kazoo call, retrying only when its outcome is unknown. Returns the
        result, or raises the first definite error; gives up (returns None) when stopped."""
        deadline = time.monotonic() + self.max_seconds
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            try:
                return self._call(fn, *args, **kwargs)
            except UNKNOWN_OUTCOME:
                self.unknown += 1
                time.sleep(0.05)
        return None

    def setup(self):
        for path in (self.base, self.base + "/counter"):
            try:
                self._retrying(self.client.create_async, path, b"0")
            except NodeExistsError:
                pass

    def run(self):
        try:
            self.setup()
            started = time.monotonic()
            version = None
            n = 0
            while (not self.stop_event.is_set() and n < self.max_ops
                   and time.monotonic() - started < self.max_seconds):
                n += 1
                data = f"w{n}".encode()
                path = self._retrying(self.client.create_async, self.base + "/seq-", data,
                                      sequence=True)
                if path is None:
                    break
                with self.lock:
                    self.acked_creates[path] = data
                    self.last_ack = time.monotonic()
                if version is None:
                    got = self._retrying(self.client.get_async, self.base + "/counter")
                    if got is None:
                        break
                    version = got[1].version
                unknown_before = self.unknown
                try:
                    stat = self._retrying(self.client.set_async, self.base + "/counter", data,
                                          version)
                except BadVersionError:
                    if self.unknown == unknown_before:
                        # the version came from an acknowledged write and nothing else writes
                        # this node: the server lost or duplicated a write
                        raise AssertionError(f"{self.base}/counter: BadVersion for version "
                                             f"{version}, which the server acknowledged last")
                    # an earlier attempt whose reply was lost did apply: re-read the version
                    version = None
                    continue
                if stat is None:
                    break
                version = stat.version
                with self.lock:
                    self.acked_sets.append((stat.version, data))
                    self.last_ack = time.monotonic()
        except Exception as exc:  # reported by the test
            self.errors.append(exc)

    def wait_progress(self, more, timeout):
        """Wait until `more` further writes were acknowledged; returns the seconds it took."""
        start = time.monotonic()
        target = self.acked + more
        while time.monotonic() - start < timeout:
            if self.acked >= target:
                return time.monotonic() - start
            if self.errors or not self.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"writer {self.base}: no {more} further acknowledged writes within "
                             f"{timeout}s (acked {self.acked}, errors {self.errors!r})")

    def finish(self, timeout=30.0):
        self.stop_event.set()
        self.join(timeout)
        assert not self.is_alive(), f"writer {self.base} did not stop within {timeout}s"
