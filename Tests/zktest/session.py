"""A long-lived raw session that moves between ensemble members and re-registers its watches.

kazoo does not send SetWatches when it reconnects, so this small client does, to check the
server side of watch re-registration: it keeps one session alive with pings, reconnects to the
next member (same session id and password, last seen zxid) when its connection breaks, and sends
SetWatches (relative zxid = the last zxid it saw) for the one-shot data watches it holds. All
waits are bounded; the thread stops on `close()`.
"""
import threading
import time

from . import jute


def set_watches_body(relative_zxid, data=(), exist=(), child=()):
    return (jute.Writer().long(relative_zxid).strings(list(data)).strings(list(exist))
            .strings(list(child)).bytes())


class RawSession(threading.Thread):
    def __init__(self, ports, timeout_ms=15000, ping_interval=1.0, max_seconds=300.0):
        super().__init__(daemon=True)
        self.ports = list(ports)
        self.timeout_ms = timeout_ms
        self.ping_interval = ping_interval
        self.max_seconds = max_seconds
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.conn = None
        self.session_id = 0
        self.passwd = b"\0" * 16
        self.last_zxid = 0
        self.data_watches = set()
        self.events = []  # (type, path) of node events, in arrival order
        self.reconnects = []  # (port, error or None) of every reconnection attempt
        self.expired = False
        self.next_port = 0

    # called from the test thread before `start()` or under the lock
    def open(self):
        with self.lock:
            self._connect(first=True)
        return self

    def _connect(self, first=False):
        last_exc = None
        for _ in range(len(self.ports)):
            port = self.ports[self.next_port % len(self.ports)]
            self.next_port += 1
            try:
                c = jute.Conn(port, timeout=2.0)
            except OSError as exc:
                last_exc = exc
                self.reconnects.append((port, repr(exc)))
                continue
            try:
                r = c.connect(timeout_ms=self.timeout_ms, session_id=self.session_id,
                              passwd=self.passwd, last_zxid=self.last_zxid)
                if r["timeOut"] <= 0:
                    self.expired = True
                    c.close()
                    raise RuntimeError("session expired")
                self.session_id, self.passwd = r["sessionId"], r["passwd"]
                if self.data_watches and not first:
                    out = c.call(jute.SET_WATCHES,
                                 set_watches_body(self.last_zxid, data=sorted(self.data_watches)),
                                 xid=-8)
                    if out["err"] != 0:
                        raise RuntimeError(f"SetWatches failed: {out}")
                self._take_events(c)
                self.conn = c
                self.reconnects.append((port, None))
                return
            except (OSError, jute.Closed, ValueError) as exc:
                last_exc = exc
                self.reconnects.append((port, repr(exc)))
                c.close()
        raise ConnectionError(f"no member accepted the session: {last_exc!r}")

    def _take_events(self, c):
        for ev in c.take_events():
            self.events.append((ev["type"], ev["path"]))
            if ev["type"] in (jute.NODE_DATA_CHANGED, jute.NODE_DELETED):
                self.data_watches.discard(ev["path"])

    def call(self, fn, *args, **kw):
        """Run a jute.Conn method on the current connection (test thread)."""
        with self.lock:
            out = fn(self.conn, *args, **kw)
            self._seen(out)
            self._take_events(self.conn)
            return out

    def _seen(self, out):
        z = out.get("zxid", 0) if isinstance(out, dict) else 0
        if z and z > self.last_zxid:
            self.last_zxid = z

    def watch_data(self, path):
        out = self.call(jute.Conn.get, path, watch=True)
        if out["err"] == 0:
            with self.lock:
                self.data_watches.add(path)
        return out

    def run(self):
        started = time.monotonic()
        while not self.stop_event.is_set() and time.monotonic() - started < self.max_seconds:
            with self.lock:
                try:
                    if self.conn is None:
                        self._connect()
                    else:
                        self._seen(self.conn.ping())
                        self._take_events(self.conn)
                except (OSError, jute.Closed, ValueError, ConnectionError, RuntimeError):
                    if self.conn is not None:
                        self.conn.close()
                    self.conn = None
            self.stop_event.wait(self.ping_interval if self.conn is not None else 0.2)

    def close(self):
        self.stop_event.set()
        if self.is_alive():
            self.join(10)
        with self.lock:
            if self.conn is not None:
                try:
                    self.conn.close_session()
                except (OSError, jute.Closed, ValueError):
                    pass
                self.conn.close()
                self.conn = None
