"""Failover probes shared by the interop comparison and the availability report: fault the leader of a
running Ensemble, then time until a write through another member succeeds."""
import statistics
import struct
import time

from . import jute


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def measure_failovers(ens, runs, bound, fault="kill"):
    """Fault the leader `runs` times (kill: kill -9, so its connections close; stop: SIGSTOP, so nothing
    closes and the others must notice by timeouts), each time retrying a create every 20 ms on the
    other members, round robin, until one succeeds; then restart or resume it. Returns the seconds from
    the fault to that first write (None where it took more than `bound`)."""
    times = []
    for run in range(runs):
        leader = ens.wait_stable(timeout=120)
        others = [n for n in ens.running() if n is not leader]
        t0 = time.monotonic()
        if fault == "kill":
            leader.kill9()
        else:
            leader.pause()
        done = None
        attempt = 0
        while time.monotonic() - t0 < bound:
            n = others[attempt % len(others)]
            attempt += 1
            try:
                with jute.Conn(n.client_port, timeout=1.0, host=n.host) as c:
                    c.connect(timeout_ms=6000)
                    r = c.create(f"/failover-{fault}-{run}-{attempt}", b"x")
                    if r["err"] == 0:
                        done = time.monotonic() - t0
                        break
            except (OSError, jute.Closed, ValueError, struct.error):
                pass
            time.sleep(0.02)
        log(f"{ens.kind} {fault} run {run + 1}: leader {leader.sid}, first write after "
            f"{done if done is None else round(done, 3)} s ({attempt} attempts)")
        times.append(done)
        if fault == "kill":
            leader.start()
        else:
            leader.resume()
    return times


def median(times):
    vals = [t for t in times if t is not None]
    return statistics.median(vals) if vals else None


def fmt_runs(times):
    med = median(times)
    runs = ", ".join("timeout" if t is None else f"{t:.2f}" for t in times)
    return f"median {'n/a' if med is None else f'{med:.2f} s'} (runs {runs})"
