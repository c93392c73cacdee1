"""Limits hold on a standalone zkserver: hundreds of sessions and 100k watches are served with bounded
memory, released when the clients go, and the server keeps answering other clients quickly."""
import socket
import struct
import time

from zktest import jute
from zktest.server import ZKServer
from zktest.words import four_letter, is_ok


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def frame(b):
    return struct.pack(">i", len(b)) + b


def read_frame(s):
    def n(k):
        b = b""
        while len(b) < k:
            d = s.recv(k - len(b))
            if not d:
                raise EOFError
            b += d
        return b
    return n(struct.unpack(">i", n(4))[0])


def test_many_sessions_and_watches_stay_bounded(tmp_path):
    srv = ZKServer("zkserver", tmp_path, defaults=False,
                   extra_cfg={"tickTime": "2000", "maxClientCnxns": "0", "4lw.commands.whitelist": "*"})
    port = srv.port
    socks = []
    try:
        srv.start(timeout=30)   # serving, and without privilege
        proc = srv.proc
        base_rss = rss_kb(proc.pid)
        sessions = 400
        for i in range(sessions):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(frame(jute.connect_body(timeout_ms=30000)))
            read_frame(s)
            socks.append(s)
        # One connection sets 100k exists-watches on missing paths, pipelined in chunks.
        w = socks[0]
        total, xid = 100_000, 0
        for start in range(0, total, 1000):
            batch = b""
            for k in range(start, start + 1000):
                xid += 1
                batch += frame(struct.pack(">ii", xid, 3) + jute.path_body(f"/watched/n{k}", True))
            w.sendall(batch)
            for _ in range(1000):
                read_frame(w)
        wchs = four_letter(port, "wchs").decode()
        assert f"Total watches:{total}" in wchs, wchs
        peak_rss = rss_kb(proc.pid)
        # Another client is still served promptly.
        t0 = time.monotonic()
        assert is_ok(port)
        latency = time.monotonic() - t0
        for s in socks:
            s.close()
        socks = []
        deadline = time.time() + 10
        while time.time() < deadline and "Total watches:0" not in four_letter(port, "wchs").decode():
            time.sleep(0.2)
        assert "Total watches:0" in four_letter(port, "wchs").decode()
        grown_mb = (peak_rss - base_rss) / 1024
        print(f"\nLIMITS: {sessions} sessions + {total} watches: RSS {base_rss // 1024} MB -> {peak_rss // 1024} MB "
              f"(+{grown_mb:.1f} MB), ruok under load {latency * 1000:.1f} ms, watches released on disconnect")
        assert grown_mb < 200, f"RSS grew by {grown_mb:.1f} MB"
        assert latency < 1.0
    finally:
        for s in socks:
            s.close()
        srv.stop()
