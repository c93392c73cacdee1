"""A small raw-socket ZooKeeper client: jute encoding, framing, requests and reply decoding.

Layouts follow shared/docs/zk-protocol.md sections 1-9. Everything is big-endian.
"""
import socket
import struct
import time

# opcodes
CREATE, DELETE, EXISTS, GET_DATA, SET_DATA, GET_ACL, SET_ACL, GET_CHILDREN, SYNC = 1, 2, 3, 4, 5, 6, 7, 8, 9
PING, GET_CHILDREN2, CHECK, MULTI, CREATE2 = 11, 12, 13, 14, 15
CHECK_WATCHES, REMOVE_WATCHES, CREATE_CONTAINER, CREATE_TTL, MULTI_READ = 17, 18, 19, 21, 22
AUTH, SET_WATCHES, GET_EPHEMERALS, GET_ALL_CHILDREN_NUMBER = 100, 101, 103, 104
ADD_WATCH, WHO_AM_I, CLOSE_SESSION = 106, 107, -11

# error codes
OK, RUNTIMEINCONSISTENCY, MARSHALLINGERROR, UNIMPLEMENTED, BADARGUMENTS = 0, -2, -5, -6, -8
NONODE, NOAUTH, BADVERSION, NOCHILDRENFOREPHEMERALS, NODEEXISTS, NOTEMPTY = -101, -102, -103, -108, -110, -111
INVALIDACL, AUTHFAILED, NOWATCHER = -114, -115, -121

# create flags
PERSISTENT, EPHEMERAL, PERSISTENT_SEQUENTIAL, EPHEMERAL_SEQUENTIAL, CONTAINER = 0, 1, 2, 3, 4
PERSISTENT_WITH_TTL, PERSISTENT_SEQUENTIAL_WITH_TTL = 5, 6

# watch event types and watch kinds
NODE_CREATED, NODE_DELETED, NODE_DATA_CHANGED, NODE_CHILDREN_CHANGED = 1, 2, 3, 4
WATCH_CHILDREN, WATCH_DATA, WATCH_ANY = 1, 2, 3
ADD_WATCH_PERSISTENT, ADD_WATCH_PERSISTENT_RECURSIVE = 0, 1

OPEN_ACL = [(31, "world", "anyone")]
READ_ACL = [(1, "world", "anyone")]
MAX_FRAME = 0xFFFFF


class Writer:
    def __init__(self):
        self.parts = []

    def int(self, v):
        self.parts.append(struct.pack(">i", v))
        return self

    def long(self, v):
        self.parts.append(struct.pack(">q", v))
        return self

    def bool(self, v):
        self.parts.append(b"\x01" if v else b"\x00")
        return self

    def buffer(self, b):
        if b is None:
            return self.int(-1)
        self.int(len(b))
        self.parts.append(bytes(b))
        return self

    def ustring(self, s):
        return self.buffer(None if s is None else s.encode())

    def strings(self, items):
        self.int(len(items))
        for s in items:
            self.ustring(s)
        return self

    def acls(self, acl):
        self.int(len(acl))
        for perms, scheme, ident in acl:
            self.int(perms).ustring(scheme).ustring(ident)
        return self

    def raw(self, b):
        self.parts.append(b)
        return self

    def bytes(self):
        return b"".join(self.parts)


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError(f"short record: need {n} bytes at {self.pos}, have {len(self.data)}")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int(self):
        return struct.unpack(">i", self.take(4))[0]

    def long(self):
        return struct.unpack(">q", self.take(8))[0]

    def bool(self):
        return self.take(1) != b"\x00"

    def buffer(self):
        n = self.int()
        return None if n < 0 else self.take(n)

    def ustring(self):
        b = self.buffer()
        return None if b is None else b.decode()

    def strings(self):
        n = self.int()
        return None if n < 0 else [self.ustring() for _ in range(n)]

    def stat(self):
        names = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
                 "ephemeralOwner", "dataLength", "numChildren", "pzxid")
        kinds = "qqqqiiiqiiq"
        return {n: (self.long() if k == "q" else self.int()) for n, k in zip(names, kinds)}

    def acls(self):
        n = self.int()
        return [(self.int(), self.ustring(), self.ustring()) for _ in range(max(n, 0))]

    def remaining(self):
        return len(self.data) - self.pos


# ---- request bodies ----------------------------------------------------------------------

def create_body(path, data=b"", acl=OPEN_ACL, flags=0, ttl=None):
    w = Writer().ustring(path).buffer(data).acls(acl).int(flags)
    if ttl is not None:
        w.long(ttl)
    return w.bytes()


def path_body(path, *more_bool):
    w = Writer().ustring(path)
    for b in more_bool:
        w.bool(b)
    return w.bytes()


def path_int_body(path, value):
    return Writer().ustring(path).int(value).bytes()


def set_data_body(path, data, version=-1):
    return Writer().ustring(path).buffer(data).int(version).bytes()


def set_acl_body(path, acl, version=-1):
    return Writer().ustring(path).acls(acl).int(version).bytes()


def auth_body(scheme, auth):
    return Writer().int(0).ustring(scheme).buffer(auth).bytes()


def multi_body(ops):
    """ops: list of (opcode, body-bytes). Terminated by {-1, true, -1}."""
    w = Writer()
    for op, body in ops:
        w.int(op).bool(False).int(-1).raw(body)
    w.int(-1).bool(True).int(-1)
    return w.bytes()


def connect_body(timeout_ms=30000, session_id=0, passwd=b"\0" * 16, last_zxid=0, read_only=False,
                 with_read_only=True):
    w = Writer().int(0).long(last_zxid).int(timeout_ms).long(session_id).buffer(passwd)
    if with_read_only:
        w.bool(read_only)
    return w.bytes()


# ---- reply decoding ----------------------------------------------------------------------

def decode_multi(body):
    r = Reader(body)
    results = []
    while True:
        typ, done, err = r.int(), r.bool(), r.int()
        if done:
            break
        if typ == -1:
            results.append({"type": -1, "err": err, "body_err": r.int()})
        elif typ in (CREATE,):
            results.append({"type": typ, "err": err, "path": r.ustring()})
        elif typ in (CREATE2, CREATE_CONTAINER, CREATE_TTL):
            results.append({"type": typ, "err": err, "path": r.ustring(), "stat": r.stat()})
        elif typ == SET_DATA:
            results.append({"type": typ, "err": err, "stat": r.stat()})
        elif typ == GET_DATA:
            results.append({"type": typ, "err": err, "data": r.buffer(), "stat": r.stat()})
        elif typ == GET_CHILDREN:
            results.append({"type": typ, "err": err, "children": sorted(r.strings() or [])})
        else:  # delete, check: no body
            results.append({"type": typ, "err": err})
    return results


def decode_body(op, body):
    """Decode a successful reply body for opcode `op` into a dict."""
    r = Reader(body)
    if op == CREATE:
        out = {"path": r.ustring()}
    elif op in (CREATE2, CREATE_CONTAINER, CREATE_TTL):
        out = {"path": r.ustring(), "stat": r.stat()}
    elif op in (EXISTS, SET_DATA, SET_ACL):
        out = {"stat": r.stat()}
    elif op == GET_DATA:
        out = {"data": r.buffer(), "stat": r.stat()}
    elif op == GET_ACL:
        out = {"acl": r.acls(), "stat": r.stat()}
    elif op == GET_CHILDREN:
        out = {"children": sorted(r.strings() or [])}
    elif op == GET_CHILDREN2:
        out = {"children": sorted(r.strings() or []), "stat": r.stat()}
    elif op == SYNC:
        out = {"path": r.ustring()}
    elif op in (MULTI, MULTI_READ):
        return {"results": decode_multi(body)}
    elif op == GET_EPHEMERALS:
        out = {"ephemerals": sorted(r.strings() or [])}
    elif op == GET_ALL_CHILDREN_NUMBER:
        out = {"total": r.int()}
    elif op == WHO_AM_I:
        n = r.int()
        out = {"clientInfo": sorted((r.ustring(), r.ustring()) for _ in range(max(n, 0)))}
    elif op == ADD_WATCH:
        out = {"err": r.int()} if r.remaining() >= 4 else {}
    else:
        out = {}
    if r.remaining():
        out["trailing"] = r.remaining()
    return out


def decode_event(body):
    r = Reader(body)
    return {"type": r.int(), "state": r.int(), "path": r.ustring()}


class Closed(Exception):
    """The server closed the connection."""


class Conn:
    """One TCP connection. `connect()` performs the handshake; `call()` sends a request and
    collects the reply plus every watch event that arrived before it."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.xid = 0
        self.session_id = None
        self.passwd = None
        self.events = []  # events received while waiting for replies, in order

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # framing
    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _recv_exact(self, n):
        chunks, got = [], 0
        while got < n:
            try:
                b = self.sock.recv(n - got)
            except ConnectionResetError:
                raise Closed("connection reset")
            if not b:
                raise Closed(f"EOF after {got} of {n} bytes")
            chunks.append(b)
            got += len(b)
        return b"".join(chunks)

    def recv_frame(self):
        (n,) = struct.unpack(">i", self._recv_exact(4))
        if n < 0 or n > 16 * 1024 * 1024:
            raise ValueError(f"bad frame length {n}")
        return self._recv_exact(n)

    def wait_closed(self, timeout=5.0):
        """True if the server closes the connection within `timeout` (any data is discarded)."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        try:
            while time.monotonic() < deadline:
                try:
                    b = self.sock.recv(65536)
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    return True
                if not b:
                    return True
            return False
        finally:
            self.sock.settimeout(self.timeout)

    # session
    def connect(self, timeout_ms=30000, session_id=0, passwd=b"\0" * 16, with_read_only=True,
                last_zxid=0):
        self.send_frame(connect_body(timeout_ms, session_id, passwd, last_zxid,
                                     with_read_only=with_read_only))
        resp = self.recv_frame()
        r = Reader(resp)
        out = {"protocolVersion": r.int(), "timeOut": r.int(), "sessionId": r.long(),
               "passwd": r.buffer(), "size": len(resp)}
        if r.remaining():
            out["readOnly"] = r.bool()
        self.session_id, self.passwd = out["sessionId"], out["passwd"]
        return out

    def next_xid(self):
        self.xid += 1
        return self.xid

    def send_request(self, op, body=b"", xid=None):
        xid = self.next_xid() if xid is None else xid
        self.send_frame(struct.pack(">ii", xid, op) + body)
        return xid

    def read_reply(self):
        """Next frame as (xid, zxid, err, body)."""
        frame = self.recv_frame()
        xid, zxid, err = struct.unpack(">iqi", frame[:16])
        return xid, zxid, err, frame[16:]

    def wait_reply(self, xid):
        """Read frames until the reply for `xid`; events before it go to self.events."""
        for _ in range(100_000):  # each read is bounded by the socket timeout
            rxid, zxid, err, body = self.read_reply()
            if rxid == -1:
                self.events.append(decode_event(body))
                continue
            return rxid, zxid, err, body
        raise AssertionError(f"no reply for xid {xid} among 100000 notifications")

    def call(self, op, body=b"", xid=None):
        """Send one request, return {'xid','zxid','err', decoded fields...}."""
        sent = self.send_request(op, body, xid)
        rxid, zxid, err, raw = self.wait_reply(sent)
        out = {"xid": rxid, "zxid": zxid, "err": err}
        if err == 0 or op in (MULTI, MULTI_READ):
            if raw:
                out.update(decode_body(op, raw))
        elif raw:
            out["unexpected_body"] = raw.hex()
        return out

    def take_events(self):
        ev, self.events = self.events, []
        return ev

    # convenience wrappers
    def create(self, path, data=b"", flags=0, acl=OPEN_ACL, op=CREATE, ttl=None):
        return self.call(op, create_body(path, data, acl, flags, ttl))

    def get(self, path, watch=False):
        return self.call(GET_DATA, path_body(path, watch))

    def exists(self, path, watch=False):
        return self.call(EXISTS, path_body(path, watch))

    def set(self, path, data, version=-1):
        return self.call(SET_DATA, set_data_body(path, data, version))

    def delete(self, path, version=-1):
        return self.call(DELETE, path_int_body(path, version))

    def children(self, path, watch=False):
        return self.call(GET_CHILDREN, path_body(path, watch))

    def add_watch(self, path, mode):
        return self.call(ADD_WATCH, path_int_body(path, mode))

    def auth(self, scheme, credentials):
        return self.call(AUTH, auth_body(scheme, credentials.encode()), xid=-4)

    def ping(self):
        return self.call(PING, b"", xid=-2)

    def close_session(self):
        return self.call(CLOSE_SESSION)


def connected(port, **kw):
    c = Conn(port)
    c.connect(**kw)
    return c
