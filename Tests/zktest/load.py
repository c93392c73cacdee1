"""Client load for the rolling-operation report: creates, setData with version checks, reads, and
one long session holding an ephemeral and a watch. Every operation is retried on connection loss
only; anything else counts as a failed operation."""
import threading
import time

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import BadVersionError, ConnectionLoss, NodeExistsError, SessionExpiredError

RETRYABLE = (ConnectionLoss, SessionExpiredError)


class Load:
    def __init__(self, hosts, rate=20.0, session_timeout=20.0, max_op_seconds=60.0):
        self.hosts = hosts
        self.rate = rate
        self.max_op_seconds = max_op_seconds
        self.stop_flag = threading.Event()
        self.acked_creates = []
        self.acked_counter = None       # (version, value) of the last acknowledged setData
        self.failed = []                # (op, error)
        self.write_times = []
        self.ops = 0
        self.retries = 0
        self.client = KazooClient(hosts=hosts, timeout=session_timeout,
                                  connection_retry=dict(max_tries=-1, delay=0.1, max_delay=1.0))
        self.holder = KazooClient(hosts=hosts, timeout=session_timeout,
                                  connection_retry=dict(max_tries=-1, delay=0.1, max_delay=1.0))
        self.holder_lost = False
        self.watch_events = []
        self.thread = None

    # -- setup -------------------------------------------------------------------------------
    def start(self):
        self.client.start(timeout=30)
        self.holder.start(timeout=30)
        self.holder.add_listener(self._holder_state)
        self.client.ensure_path("/load/items")
        if not self.client.exists("/load/counter"):
            self.client.create("/load/counter", b"0")
        if not self.client.exists("/load/watched"):
            self.client.create("/load/watched", b"0")
        self.holder_session = self.holder.client_id[0]
        self.holder.create("/load/holder", b"eph", ephemeral=True)
        self._watch()
        self.began = time.monotonic()
        self.write_times.append(self.began)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _holder_state(self, state):
        if state == KazooState.LOST:
            self.holder_lost = True

    def _watch(self):
        # kazoo clears one-shot watches when a connection drops and tells the watcher with a NONE
        # event; its DataWatch recipe sets the watch again on the next connection, as applications do.
        from kazoo.recipe.watchers import DataWatch

        def changed(data, stat):
            self.watch_events.append(data)
        DataWatch(self.holder, "/load/watched", changed)

    # -- one operation with retries on connection loss only ----------------------------------
    def _call(self, name, fn, on_retry_error=None):
        deadline = time.monotonic() + self.max_op_seconds
        attempt = 0
        while True:
            try:
                return fn(attempt)
            except RETRYABLE as e:
                attempt += 1
                self.retries += 1
                if time.monotonic() > deadline or self.stop_flag.is_set() and attempt > 200:
                    self.failed.append((name, repr(e)))
                    return None
                time.sleep(0.1)
            except Exception as e:  # noqa: BLE001 - every other error is a failed operation
                if attempt > 0 and on_retry_error is not None:
                    ok = on_retry_error(e)
                    if ok is not None:
                        return ok
                self.failed.append((name, repr(e)))
                return None

    def _run(self):
        i = 0
        version = self.client.get("/load/counter")[1].version
        while not self.stop_flag.is_set():
            i += 1
            path = f"/load/items/n{i:06d}"
            data = f"v{i}".encode()

            # create (a retry after connection loss may find its own earlier attempt)
            def exists_is_ours(e, path=path, data=data):
                if isinstance(e, NodeExistsError) and self.client.get(path)[0] == data:
                    return path
                return None
            if self._call("create", lambda a: self.client.create(path, data), exists_is_ours) is not None:
                self.acked_creates.append(path)
                self.write_times.append(time.monotonic())

            # setData with a version check
            value = str(i).encode()

            def set_was_ours(e, value=value):
                if isinstance(e, BadVersionError):
                    d, st = self.client.get("/load/counter")
                    if d == value:
                        return st
                return None
            st = self._call("setData", lambda a: self.client.set("/load/counter", value, version=version), set_was_ours)
            if st is not None:
                version = st.version
                self.acked_counter = (st.version, value)
                self.write_times.append(time.monotonic())
            else:
                # re-read the version so later operations are not all failures
                got = self._call("read", lambda a: self.client.get("/load/counter"))
                if got is not None:
                    version = got[1].version

            # read back
            got = self._call("read", lambda a: self.client.get(path))
            if got is not None and self.acked_creates and self.acked_creates[-1] == path and got[0] != data:
                self.failed.append(("read", f"{path} holds {got[0]!r}"))
            self.ops += 3
            time.sleep(1.0 / self.rate)

    # -- end and verification ----------------------------------------------------------------
    def stop(self):
        self.stop_flag.set()
        if self.thread:
            self.thread.join(timeout=self.max_op_seconds + 10)
        self.ended = time.monotonic()
        self.write_times.append(self.ended)

    def verify(self):
        """Returns the report row for this run."""
        c = self.client
        lost = 0
        for attempt in range(50):
            try:
                c.sync("/load")
                present = set(c.get_children("/load/items"))
                lost = sum(1 for p in self.acked_creates if p.rsplit("/", 1)[1] not in present)
                if self.acked_counter:
                    d, st = c.get("/load/counter")
                    if st.version < self.acked_counter[0]:
                        lost += 1
                break
            except RETRYABLE:
                time.sleep(0.2)
        # the long session: its ephemeral is still there and owned by it, its watch still fires
        kept_eph = False
        try:
            st = c.exists("/load/holder")
            kept_eph = bool(st) and st.ephemeralOwner == self.holder_session and not self.holder_lost \
                and self.holder.client_id[0] == self.holder_session
        except Exception:  # noqa: BLE001
            kept_eph = False
        watch_ok = False
        try:
            marker = f"changed-{time.time()}".encode()
            c.set("/load/watched", marker)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and marker not in self.watch_events:
                time.sleep(0.05)
            watch_ok = marker in self.watch_events
        except Exception:  # noqa: BLE001
            watch_ok = False
        times = sorted(self.write_times)
        gap = max((b - a for a, b in zip(times, times[1:])), default=0.0)
        return {
            "acked_writes": len(self.acked_creates) + (1 if self.acked_counter else 0),
            "lost": lost,
            "failed": len(self.failed),
            "failures": self.failed[:5],
            "ops": self.ops,
            "retries": self.retries,
            "max_gap": round(gap, 2),
            "session_kept": kept_eph and watch_ok,
            "ephemeral_kept": kept_eph,
            "watch_kept": watch_ok,
        }

    def close(self):
        for cl in (self.client, self.holder):
            try:
                cl.stop()
                cl.close()
            except Exception:  # noqa: BLE001
                pass
