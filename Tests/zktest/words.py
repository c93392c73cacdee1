"""What a server answers outside the client protocol: four-letter words (and their srvr and mntr forms),
and the Prometheus text of /metrics."""
import re
import socket
import time

NOT_SERVING = "not currently serving requests"


def four_letter(port, word, timeout=5.0, host="127.0.0.1"):
    """Sends a four-letter word on a fresh connection; returns every byte until the server closes it (or
    `timeout` passes). Raises OSError when the server cannot be reached."""
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(word.encode() if isinstance(word, str) else word)
        chunks = []
        while time.monotonic() < deadline:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


def is_ok(port, host="127.0.0.1", timeout=1.0):
    """Whether the server answers ruok with imok."""
    try:
        return four_letter(port, "ruok", timeout=timeout, host=host) == b"imok"
    except OSError:
        return False


def parse_srvr(text):
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def parse_mntr(text):
    out = {}
    for line in text.splitlines():
        parts = line.split("\t", 1)
        if len(parts) == 2:
            out[parts[0].strip()] = parts[1].strip()
    return out


def srvr(port, host="127.0.0.1", timeout=2.0):
    """Parsed srvr output: {} if the server is down, {'serving': False} when it answers that it is not
    serving, else its fields with 'serving': True."""
    try:
        text = four_letter(port, "srvr", timeout=timeout, host=host).decode(errors="replace")
    except OSError:
        return {}
    if NOT_SERVING in text:
        return {"serving": False}
    out = parse_srvr(text)
    if "Mode" in out:
        out["serving"] = True
    return out


def mode(port, host="127.0.0.1", timeout=2.0):
    """leader, follower, observer or standalone; None when the server is down or not serving."""
    return srvr(port, host, timeout).get("Mode")


def mntr(port, host="127.0.0.1", timeout=2.0):
    """Parsed mntr output ({} when the server is down)."""
    try:
        return parse_mntr(four_letter(port, "mntr", timeout=timeout, host=host).decode(errors="replace"))
    except OSError:
        return {}


def parse_metrics(text):
    """Prometheus text format -> {(name, frozenset(labels)): value}; checks every line's syntax."""
    out = {}
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* ", line) or not line, line
            continue
        m = sample.match(line)
        assert m, line
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out
