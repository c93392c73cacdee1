"""Loopback ports for servers that tests start.

A port the kernel hands out for `bind(port 0)` comes from the ephemeral range, and once the probing
socket is closed the same number can be given to any outgoing connection (a client, a peer dialling
another member) before the server that was meant to have it binds it; the server then fails to
start. So ports are chosen below the ephemeral range, where the kernel never picks on its own,
checked free by binding them, and never handed out twice by one test process.
"""
import random
import socket

_LOW, _HIGH = 20000, 32000  # below Linux's default ephemeral range (32768-60999)
_handed_out = set()


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_free(port):
    """Whether a listener could bind 127.0.0.1:`port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_ports(count):
    """`count` distinct loopback ports, free now, outside the ephemeral range, not given before."""
    high = min(_HIGH, _ephemeral_low())
    if high - _LOW < 1000:
        # The kernel hands out (nearly) every port here: no range is safe from it, so take ours and
        # rely on the check that each is free.
        high = _HIGH
    ports = []
    for _ in range(20000):
        if len(ports) == count:
            return ports
        port = random.randrange(_LOW, high)
        if port in _handed_out or not port_free(port):
            continue
        _handed_out.add(port)
        ports.append(port)
    raise RuntimeError(f"could not find {count} free loopback ports between {_LOW} and {high}")


def free_port():
    return free_ports(1)[0]


def free_base(count=3, offsets=(0, 100, 200, 400, 500)):
    """A base port P with P+off..P+off+count-1 free for every offset (zkctl's generated layout:
    client, quorum, election, metrics ports, one per node), between 12000 and 20000: below both
    the range `free_ports` hands out and the kernel's ephemeral range."""
    for _ in range(300):
        base = random.randrange(12000, 20000 - max(offsets) - count, 10)
        if all(port_free(base + off + i) for off in offsets for i in range(count)):
            return base
    raise RuntimeError(f"no free range of {count} ports at offsets {offsets} between 12000 and 20000")


def free_base_port(count=3, offsets=(0, 100, 200, 400, 500)):
    """free_base for a test: skips the test (pytest) when there is no such range."""
    try:
        return free_base(count, offsets)
    except RuntimeError:
        import pytest
        pytest.skip(f"no free port range for a {count}-node cluster")
