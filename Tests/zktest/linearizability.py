"""A linearizability checker for a versioned register (one znode), in the style of Wing & Gong with
Lowe's memoisation: search for an order of the operations that respects real time and the register's
sequential specification.

Operations are dicts: {"f": "write"|"cas"|"read", "call": t0, "ret": t1 or None, "status": "ok"|"fail"|"info",
"arg": ..., "result": ...}. "info" means the outcome is unknown (e.g. the connection was lost): the
operation may have taken effect at any point after its call, or never.

Model state: (value, version). write(v) -> (v, version + 1). cas((ver, v)) succeeds iff version == ver.
read() returns (value, version).
"""
import math


def step(state, op):
    """The new state if `op` may be linearized at `state`, else None."""
    value, version = state
    f, st = op["f"], op["status"]
    if f == "write":
        return (op["arg"], version + 1)
    if f == "cas":
        ver, new = op["arg"]
        if st == "fail":
            return state if version != ver else None
        return (new, version + 1) if version == ver else None
    if f == "read":
        if st != "ok":
            return state
        return state if tuple(op["result"]) == (value, version) else None
    raise ValueError(f"unknown op {f}")


def check(ops, initial, max_steps=2_000_000):
    """Returns (verdict, detail): verdict is True (linearizable), False (not), or None (search gave up)."""
    ops = [o for o in ops if not (o["f"] == "read" and o["status"] != "ok")]
    n = len(ops)
    if n == 0:
        return True, "empty history"
    ret = [o["ret"] if (o["status"] != "info" and o["ret"] is not None) else math.inf for o in ops]
    call = [o["call"] for o in ops]
    required = 0
    for i, o in enumerate(ops):
        if o["status"] != "info":
            required |= 1 << i
    order = sorted(range(n), key=lambda i: call[i])
    seen = set()
    stack = [(0, initial)]
    steps = 0
    best = 0
    while stack:
        done, state = stack.pop()
        if done & required == required:
            return True, f"linearizable ({n} ops)"
        key = (done, state)
        if key in seen:
            continue
        seen.add(key)
        steps += 1
        if steps > max_steps:
            return None, f"search gave up after {max_steps} states ({n} ops)"
        best = max(best, bin(done & required).count("1"))
        # An op may come next only if no pending op returned before it was called.
        horizon = math.inf
        for i in range(n):
            if not done >> i & 1 and ret[i] < horizon:
                horizon = ret[i]
        for i in order:
            if call[i] > horizon:
                break
            if done >> i & 1:
                continue
            nxt = step(state, ops[i])
            if nxt is not None:
                stack.append((done | 1 << i, nxt))
    return False, f"no linearization: at most {best} of {bin(required).count('1')} completed ops could be ordered"


if __name__ == "__main__":
    # Self-check on hand-made histories.
    ok = [{"f": "write", "call": 0, "ret": 2, "status": "ok", "arg": "a"},
          {"f": "read", "call": 1, "ret": 3, "status": "ok", "result": ("a", 1)}]
    stale = [{"f": "write", "call": 0, "ret": 1, "status": "ok", "arg": "a"},
             {"f": "read", "call": 2, "ret": 3, "status": "ok", "result": ("0", 0)}]
    print(check(ok, ("0", 0)), check(stale, ("0", 0)))
