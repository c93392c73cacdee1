"""Each kazoo recipe works against the server under test. Every wait is bounded."""
import queue
import threading
import time

from kazoo.recipe.barrier import Barrier, DoubleBarrier
from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock, Semaphore
from kazoo.recipe.party import Party
from kazoo.recipe.queue import LockingQueue, Queue
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

WAIT = 5.0


def run_bounded(target, timeout=WAIT):
    """Run target in a thread; return its result or raise if it did not finish in time."""
    out = queue.Queue()

    def wrapper():
        try:
            out.put(("ok", target()))
        except BaseException as exc:  # noqa: B902 - reported to the test thread
            out.put(("err", exc))

    t = threading.Thread(target=wrapper, daemon=True)
    t.start()
    kind, value = out.get(timeout=timeout)
    if kind == "err":
        raise value
    return value


def test_lock(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    la, lb = Lock(a, f"{base}/lock", "a"), Lock(b, f"{base}/lock", "b")
    assert la.acquire(timeout=WAIT)
    assert not lb.acquire(blocking=False)
    assert lb.contenders() == ["a"]
    got = threading.Event()

    def wait_for_lock():
        assert lb.acquire(timeout=WAIT)
        got.set()

    t = threading.Thread(target=wait_for_lock, daemon=True)
    t.start()
    time.sleep(0.3)
    assert not got.is_set()
    la.release()
    assert got.wait(WAIT)
    t.join(WAIT)
    lb.release()
    assert la.acquire(timeout=WAIT)
    la.release()


def test_lock_released_when_holder_session_ends(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    assert Lock(a, f"{base}/lock").acquire(timeout=WAIT)
    lb = Lock(b, f"{base}/lock")
    a.stop()
    assert lb.acquire(timeout=WAIT)
    lb.release()


def test_election(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    ea, eb = Election(a, f"{base}/el", "a"), Election(b, f"{base}/el", "b")
    leaders = queue.Queue()
    release_a = threading.Event()

    def lead_a():
        leaders.put("a")
        release_a.wait(WAIT)

    ta = threading.Thread(target=ea.run, args=(lead_a,), daemon=True)
    ta.start()
    assert leaders.get(timeout=WAIT) == "a"
    tb = threading.Thread(target=eb.run, args=(lambda: leaders.put("b"),), daemon=True)
    tb.start()
    time.sleep(0.3)
    assert leaders.empty()
    assert sorted(eb.contenders()) == ["a", "b"]
    release_a.set()
    assert leaders.get(timeout=WAIT) == "b"
    ta.join(WAIT)
    tb.join(WAIT)


def test_counter(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    ca, cb = Counter(a, f"{base}/cnt"), Counter(b, f"{base}/cnt")

    def bump(counter, n):
        for _ in range(n):
            counter += 1

    threads = [threading.Thread(target=bump, args=(c, 25), daemon=True) for c in (ca, cb)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    assert ca.value == 50
    cb -= 8
    assert ca.value == 42
    fc = Counter(a, f"{base}/fcnt", default=0.0)
    fc += 1.5
    assert Counter(b, f"{base}/fcnt", default=0.0).value == 1.5


def test_barrier(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    bar = Barrier(a, f"{base}/bar")
    bar.create()
    passed = threading.Event()
    t = threading.Thread(target=lambda: Barrier(b, f"{base}/bar").wait(WAIT) and passed.set(),
                         daemon=True)
    t.start()
    time.sleep(0.3)
    assert not passed.is_set()
    bar.remove()
    assert passed.wait(WAIT)
    t.join(WAIT)
    assert Barrier(b, f"{base}/bar").wait(0.5)


def test_double_barrier(kazoo_factory, base):
    clients = [kazoo_factory() for _ in range(3)]
    entered, left = queue.Queue(), queue.Queue()

    def member(i, c):
        db = DoubleBarrier(c, f"{base}/dbar", 3, identifier=f"m{i}")
        db.enter()
        entered.put(i)
        db.leave()
        left.put(i)

    threads = [threading.Thread(target=member, args=(i, c), daemon=True)
               for i, c in enumerate(clients)]
    threads[0].start()
    threads[1].start()
    time.sleep(0.3)
    assert entered.empty(), "entered before all three members arrived"
    threads[2].start()
    assert sorted(entered.get(timeout=WAIT) for _ in range(3)) == [0, 1, 2]
    assert sorted(left.get(timeout=WAIT) for _ in range(3)) == [0, 1, 2]
    for t in threads:
        t.join(WAIT)


def test_queue(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    qa, qb = Queue(a, f"{base}/q"), Queue(b, f"{base}/q")
    for item in (b"one", b"two", b"three"):
        qa.put(item)
    qa.put(b"urgent", priority=10)
    assert len(qb) == 4
    assert [qb.get() for _ in range(4)] == [b"urgent", b"one", b"two", b"three"]
    assert qb.get() is None
    qa.put(b"x")
    qa.put(b"y")
    assert qb.get() == b"x"


def test_locking_queue(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    qa, qb = LockingQueue(a, f"{base}/lq"), LockingQueue(b, f"{base}/lq")
    qa.put(b"job1")
    qa.put(b"job2", priority=1)
    assert qb.get(timeout=WAIT) == b"job2"
    assert qb.holds_lock()
    assert qb.consume()
    assert qa.get(timeout=WAIT) == b"job1"
    assert qa.release()  # put back unconsumed
    assert qb.get(timeout=WAIT) == b"job1"
    assert qb.consume()
    assert len(qa) == 0
    # a blocked get returns when an item arrives
    result = queue.Queue()
    t = threading.Thread(target=lambda: result.put(qb.get(timeout=WAIT)), daemon=True)
    t.start()
    time.sleep(0.2)
    qa.put(b"late")
    assert result.get(timeout=WAIT) == b"late"
    t.join(WAIT)


def test_party(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    pa, pb = Party(a, f"{base}/party", "alice"), Party(b, f"{base}/party", "bob")
    pa.join()
    pb.join()
    assert sorted(Party(a, f"{base}/party")) == ["alice", "bob"]
    assert len(pa) == 2
    pb.leave()
    assert list(pa) == ["alice"]
    b.stop()
    a.create(f"{base}/marker")
    assert list(Party(a, f"{base}/party")) == ["alice"]


def test_semaphore(kazoo_factory, base):
    clients = [kazoo_factory() for _ in range(3)]
    sems = [Semaphore(c, f"{base}/sem", identifier=f"s{i}", max_leases=2)
            for i, c in enumerate(clients)]
    assert sems[0].acquire(timeout=WAIT)
    assert sems[1].acquire(timeout=WAIT)
    assert not sems[2].acquire(blocking=False)
    assert sorted(sems[2].lease_holders()) == ["s0", "s1"]
    sems[0].release()
    assert sems[2].acquire(timeout=WAIT)
    sems[1].release()
    sems[2].release()


def test_children_watch(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    seen = queue.Queue()
    ChildrenWatch(a, base, func=lambda children: seen.put(sorted(children)))
    assert seen.get(timeout=WAIT) == []
    b.create(f"{base}/x")
    assert seen.get(timeout=WAIT) == ["x"]
    b.create(f"{base}/y")
    assert seen.get(timeout=WAIT) == ["x", "y"]
    b.delete(f"{base}/x")
    assert seen.get(timeout=WAIT) == ["y"]


def test_data_watch(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    seen = queue.Queue()
    DataWatch(a, f"{base}/d", func=lambda data, stat: seen.put((data, stat and stat.version)))
    assert seen.get(timeout=WAIT) == (None, None)
    b.create(f"{base}/d", b"v0")
    assert seen.get(timeout=WAIT) == (b"v0", 0)
    b.set(f"{base}/d", b"v1")
    assert seen.get(timeout=WAIT) == (b"v1", 1)
    b.delete(f"{base}/d")
    assert seen.get(timeout=WAIT) == (None, None)


def test_tree_cache(kazoo_factory, base):
    a, b = kazoo_factory(), kazoo_factory()
    b.create(f"{base}/tc/a", b"1", makepath=True)
    events = queue.Queue()
    cache = TreeCache(a, f"{base}/tc")
    cache.listen(events.put)
    cache.start()
    try:
        def wait_for(event_type, path):
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                ev = events.get(timeout=max(0.01, deadline - time.monotonic()))
                if ev.event_type == event_type and (ev.event_data is None or
                                                    ev.event_data.path == path):
                    return ev
            raise AssertionError(f"no {event_type} for {path}")

        wait_for(TreeEvent.INITIALIZED, None)
        assert cache.get_data(f"{base}/tc/a").data == b"1"
        b.create(f"{base}/tc/a/deep", b"2")
        wait_for(TreeEvent.NODE_ADDED, f"{base}/tc/a/deep")
        assert cache.get_data(f"{base}/tc/a/deep").data == b"2"
        b.set(f"{base}/tc/a", b"3")
        wait_for(TreeEvent.NODE_UPDATED, f"{base}/tc/a")
        assert cache.get_data(f"{base}/tc/a").data == b"3"
        assert sorted(cache.get_children(f"{base}/tc")) == ["a"]
        b.delete(f"{base}/tc/a", recursive=True)
        wait_for(TreeEvent.NODE_REMOVED, f"{base}/tc/a")
        assert cache.get_data(f"{base}/tc/a") is None
    finally:
        cache.close()


def test_lock_protects_a_shared_value_under_contention(kazoo_factory, base):
    """Six clients increment one znode under a Lock with a read-modify-write that would lose
    updates without mutual exclusion."""
    clients = [kazoo_factory() for _ in range(6)]
    clients[0].create(f"{base}/value", b"0")
    rounds, errors = 15, []

    def worker(c, name):
        lock = Lock(c, f"{base}/lock", name)
        try:
            for _ in range(rounds):
                with lock:
                    v = int(c.get(f"{base}/value")[0])
                    c.set(f"{base}/value", str(v + 1).encode())
        except Exception as exc:  # noqa: B902 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(c, f"w{i}"), daemon=True)
               for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and not any(t.is_alive() for t in threads), errors
    data, stat = clients[0].get(f"{base}/value")
    assert int(data) == len(clients) * rounds and stat.version == len(clients) * rounds
    assert clients[0].get_children(f"{base}/lock") == []
